"""Reports as submissions (ST-04): the 进销存, the card statement, the 外配 statement and the declaration, each with
its period, status (draft / submitted / accepted / rejected with the agency's reason), who submitted it and when, and
the file handed in — kept, SHA-256 checksummed, and checked against its checksum every time it is read.

A submitted file is never replaced: a resubmission after a rejection is a new row naming the one it follows
(migration 0023's guard refuses the rest at the database). The deadlines are the store's settings with no default
(`[rules] report_deadline_day` for the monthly reports, `[reports] deadline_days` per report): where one is unset,
whether a report is overdue is refused, not guessed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models import Store
from server.db.models.money import ReportSubmission
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules import submissions as rules
from server.rules.receivables import Period, period_of, period_starting, report_due
from server.services.context import Ctx

MAX_FILE_BYTES = 50 * 1024 * 1024


def period_kind(ctx: Ctx, kind: str) -> str:
    """The 进销存 is monthly; the statements and the declaration follow `statement_period` (ST-03)."""
    return "monthly" if kind == "ledger" else ctx.settings.rules.statement_period


def deadline_day(ctx: Ctx, kind: str) -> tuple[int | None, str]:
    """The deadline day of a report and the setting it comes from (None: unset, no default)."""
    per_kind = ctx.settings.reports.deadline_days
    if kind in per_kind:
        return per_kind[kind], f"[reports] deadline_days.{kind}"
    if kind in rules.MONTHLY:
        return ctx.settings.rules.report_deadline_day, "[rules] report_deadline_day"
    return None, f"[reports] deadline_days.{kind}"


def _period(ctx: Ctx, kind: str, start: date) -> Period:
    period = period_starting(start, period_kind(ctx, kind)) if kind in rules.KINDS else None
    if period is None:
        raise refused([Violation("ST-04", f"{start} 不是{period_kind(ctx, kind)}报送期间的起始日",
                                 f"{start} does not begin a {period_kind(ctx, kind)} period of {kind}",
                                 {"kind": kind, "period_start": start.isoformat()})])
    return period


def get(s: Session, ctx: Ctx, submission_id: int) -> ReportSubmission:
    row = s.get(ReportSubmission, submission_id)
    if row is None or row.store_id != ctx.store_id:
        raise not_found("报表报送记录", "report submission", submission_id=submission_id)
    return row


def _following(s: Session, submission_id: int) -> bool:
    return s.exec(select(ReportSubmission.id).where(ReportSubmission.previous_id == submission_id)).first() is not None


def draft(u: Unit, ctx: Ctx, kind: str, period_start: date | None, file_name: str, content: bytes,
          previous_id: int | None = None) -> ReportSubmission:
    """A new draft of a report; with `previous_id`, the resubmission of a rejected one (same report, same period,
    the next version)."""
    s = orm(u)
    previous = get(s, ctx, previous_id) if previous_id is not None else None
    if previous is not None:
        kind, start, version = previous.kind, previous.period_start, previous.version + 1
    else:
        if period_start is None:
            raise refused([Violation("ST-04", "须指定报表期间", "the report's period is required")])
        start, version = period_start, 1
    problems = rules.draft_refusals(kind, content, previous.status if previous else None,
                                    previous is not None and _following(s, previous_id or 0))
    if len(content) > MAX_FILE_BYTES:
        problems.append(Violation("ST-04", "报表文件过大", "the report's file is too large", {"size": len(content)}))
    if problems:
        raise refused(problems)
    period = _period(ctx, kind, start)
    if previous is None:
        taken = s.exec(select(ReportSubmission.id).where(
            ReportSubmission.store_id == ctx.store_id, ReportSubmission.kind == kind,
            ReportSubmission.period_start == period.start)).first()
        if taken is not None:
            raise refused([Violation("ST-04", f"该期间的{rules.KINDS[kind]}已有报送记录，被退回后请重新报送",
                                     f"this period's {kind} already has a submission: resubmit it after a rejection",
                                     {"submission_id": taken})], status=409)
    row = ReportSubmission(store_id=ctx.store_id, kind=kind, period_start=period.start, period_end=period.end,
                           version=version, previous_id=previous_id, status=rules.DRAFT,
                           file_name=file_name.strip()[:200] or f"{kind}-{period.label}", content=content,
                           sha256=hashlib.sha256(content).hexdigest(), size=len(content), created_by=ctx.actor_id,
                           created_at=ctx.now)
    s.add(row)
    try:
        s.flush()
    except IntegrityError:  # another session drafted this version at the same moment: theirs stands
        raise conflict("ST-04", "该报表此版本已由他人同时创建", "this version of the report was just created by another",
                       kind=kind, period=period.label, version=version) from None
    audit.record_row(u, ctx.store_id, ctx.actor, "submission.draft", row, note=f"{kind} {period.label} v{version}")
    return row


def ledger_file(engine: Engine, ctx: Ctx, start: date) -> tuple[str, bytes]:
    """The month's 进销存 as its XLSX, made from the ledger now: what is handed in is derived, never typed."""
    import tempfile
    from pathlib import Path

    from reports import ledger
    from reports.export import xlsx  # imported here: openpyxl costs the service's start what only an export needs
    from reports.layout import configured

    first, last = ledger.month_of(start)
    report = ledger.ledger_report(engine, ctx.store_id, first, last, configured(ctx.settings.reports.ledger_layout))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jxc.xlsx"
        xlsx.write(report, path)
        return f"jxc-{first.isoformat()}-{last.isoformat()}.xlsx", path.read_bytes()


def replace_draft(u: Unit, ctx: Ctx, submission_id: int, file_name: str, content: bytes) -> ReportSubmission:
    """A draft's file replaced before it is submitted; a submitted file never is."""
    s = orm(u)
    row = get(s, ctx, submission_id)
    if row.status != rules.DRAFT:
        raise refused([Violation("ST-04", "已报送的文件不能替换；被退回后请重新报送",
                                 "a submitted file is never replaced: resubmit after a rejection",
                                 {"status": row.status})], status=409)
    if not content:
        raise refused([Violation("ST-04", "报表文件为空", "the report's file is empty")])
    before = audit.snapshot(row)
    row.file_name, row.content = file_name.strip()[:200] or row.file_name, content
    row.sha256, row.size = hashlib.sha256(content).hexdigest(), len(content)
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "submission.replace_draft", row, before)
    return row


def _move(u: Unit, ctx: Ctx, submission_id: int, to: str, reason: str = "", agency_ref: str = "") -> ReportSubmission:
    s = orm(u)
    row = get(s, ctx, submission_id)
    problems = rules.move_refusals(row.status, to, reason)
    if problems:
        raise refused(problems, status=409)
    checked(row)  # what is handed in, or judged, is the file as kept
    before = audit.snapshot(row)
    row.status = to
    if to == rules.SUBMITTED:
        row.submitted_by, row.submitted_at = ctx.actor_id, ctx.now
    else:
        row.decided_by, row.decided_at = ctx.actor_id, ctx.now
        row.reason, row.agency_ref = reason.strip()[:200], agency_ref.strip()[:60]
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, f"submission.{to}", row, before, note=reason)
    return row


def submit(u: Unit, ctx: Ctx, submission_id: int) -> ReportSubmission:
    return _move(u, ctx, submission_id, rules.SUBMITTED)


def decide(u: Unit, ctx: Ctx, submission_id: int, accepted: bool, reason: str = "",
           agency_ref: str = "") -> ReportSubmission:
    """The agency's verdict, as recorded from its answer: accepted, or rejected with its reason."""
    return _move(u, ctx, submission_id, rules.ACCEPTED if accepted else rules.REJECTED, reason, agency_ref)


def verified(row: ReportSubmission) -> bool:
    return hashlib.sha256(row.content).hexdigest() == row.sha256 and len(row.content) == row.size


def checked(row: ReportSubmission) -> bytes:
    """The file as submitted, re-verified against its checksum; a file that differs is never handed out."""
    if not verified(row):
        raise AppError(409, "ST-02", "报表文件与其校验值不符，可能已被篡改",
                       "the report's file does not match its SHA-256: it may have been altered",
                       {"submission_id": row.id, "sha256": row.sha256})
    return row.content


def describe(row: ReportSubmission) -> dict[str, Any]:
    return row.model_dump(exclude={"content"}) | {"period": Period(row.period_start, row.period_end).label,
                                                  "verified": verified(row)}


def listing(s: Session, ctx: Ctx, kind: str | None = None, year: int | None = None) -> list[ReportSubmission]:
    q = select(ReportSubmission).where(ReportSubmission.store_id == ctx.store_id)
    if kind is not None:
        q = q.where(ReportSubmission.kind == kind)
    if year is not None:
        q = q.where(col(ReportSubmission.period_start) >= date(year, 1, 1),
                    col(ReportSubmission.period_start) <= date(year, 12, 31))
    return list(s.exec(q.order_by(col(ReportSubmission.period_start), col(ReportSubmission.kind),
                                  col(ReportSubmission.version))))


@dataclass(frozen=True, slots=True)
class Board:
    rows: list[dict[str, Any]]  # kind × period: due date, the latest version's status, overdue
    unset: list[Violation]  # the reports whose deadline is unset: overdue refused for them


def board(s: Session, ctx: Ctx, year: int | None = None, kind: str | None = None) -> Board:
    """Every period of every report that has ended in the year (and the last of the year before, due in this one),
    from the 医保 agreement's start when the store has one: when it is due, where its latest version stands, whether it is overdue on the store's clock. Asked for one
    report whose deadline is unset, it refuses (ST-04: no default)."""
    year = year or ctx.today.year
    if kind is not None and kind not in rules.KINDS:
        raise refused([Violation("ST-04", f"未知的报表类型 {kind}", f"unknown report kind {kind!r}")])
    kinds = [kind] if kind else list(rules.KINDS)
    latest: dict[tuple[str, date], list[str]] = {}
    for row in listing(s, ctx, kind):
        latest.setdefault((row.kind, row.period_start), []).append(row.status)
    out: list[dict[str, Any]] = []
    unset: list[Violation] = []
    last = min(ctx.today - timedelta(days=1), date(year, 12, 31))
    store = s.get(Store, ctx.store_id)
    since = store.agreement_start if store is not None else None  # nothing is owed before the agreement began
    for k in kinds:
        day, setting = deadline_day(ctx, k)
        refusal = rules.overdue_refusal(k, day, setting)
        if refusal is not None:
            if kind is not None:
                raise refused([refusal])
            unset.append(refusal)
            continue
        # the periods ending from the last day of the year before up to yesterday
        p = period_of(date(year - 1, 12, 31), period_kind(ctx, k))
        while p.end <= last:
            if since is not None and p.end < since:
                p = period_of(p.end + timedelta(days=1), period_kind(ctx, k))
                continue
            due = report_due(p, day)
            assert due is not None
            statuses = latest.get((k, p.start), [])
            out.append({"kind": k, "kind_zh": rules.KINDS[k], "period": p.label, "period_start": p.start,
                        "period_end": p.end, "due_on": due, "status": statuses[-1] if statuses else "missing",
                        "versions": len(statuses), "overdue": rules.is_overdue(due, ctx.today, statuses),
                        "deadline_setting": setting})
            p = period_of(p.end + timedelta(days=1), period_kind(ctx, k))
    return Board(out, unset)


def checklist_facts(s: Session, ctx: Ctx) -> dict[str, Any]:
    """What the compliance checklist's item 4 judges (ST-04): the reports overdue this year on the store's clock,
    and the reports whose deadline is unset (overdue refused for them, named). A seam for reports.checklist
    (Facts.extra "submissions")."""
    b = board(s, ctx, ctx.today.year)
    return {"overdue": [{k: r[k] for k in ("kind", "kind_zh", "period", "due_on", "status")} for r in b.rows
                        if r["overdue"]],
            "unset": [v.as_dict() for v in b.unset]}
