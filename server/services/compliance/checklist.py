"""The store manager's compliance checklist as a use case: run it for a period (with the audit chain verified),
keep each run so the next shows what changed, and record what no data proves (attestations) and the training held.

The items themselves are pure (reports.checklist.items); this module gives them the audit chain's verification,
which reports/ may not run, and writes the history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from reports.checklist.facts import AuditFacts, FundUsePolicy, Policy
from reports.checklist.run import checklist
from reports.checklist.verdict import Checklist
from server import audit
from server.config import Settings
from server.db.models import Attestation, AttestationTopic, ChecklistRun, TrainingSession, User
from server.db.models.base import id_of
from server.db.uow import core_unit, orm, read_session
from server.errors import AppError
from server.rules.uploads import backlog_refusals
from server.services.context import Ctx
from server.services.inspection import archive
from server.services.insurance import receivables, uploads
from server.services.recon.blockers import month_blockers
from server.services.store import submissions

PHOTO_MAX_BYTES = 5 * 1024 * 1024


def _hours(span: str) -> tuple[time, time]:
    start, end = span.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def policy_of(settings: Settings) -> Policy:
    r, c = settings.rules, settings.checklist
    (open_from, open_until), (late_from, late_until) = _hours(c.opening_hours), _hours(c.late_night)
    fund_use = FundUsePolicy(repeat_window_days=c.repeat_window_days, repeat_max_sales=c.repeat_max_sales,
                             max_days_supply=c.max_days_supply, max_units_per_drug=c.max_units_per_drug,
                             open_from=open_from, open_until=open_until, store_24h=r.store_24h,
                             late_from=late_from, late_until=late_until)
    return Policy(store_code=settings.store.fixmedins_code, site_code=settings.store.site_code, tz=settings.store.tz,
                  min_contract_years=r.min_contract_years, min_insurance_admins=r.min_insurance_admins,
                  drill_every_days=settings.backup.drill_every_days, backup_dir=settings.backup.dir,
                  fund_use=fund_use)


def wings(engine: Engine, ctx: Ctx, first: date, last: date) -> dict[str, Any]:
    """What the other wings keep for items 4, 5, 6 and 8 (reports.checklist.money), as plain rows. A wing that
    cannot answer (a refusal: a setting missing) is left out, and its items say 需人工确认."""
    out: dict[str, Any] = {}
    with read_session(engine) as s:
        for key, read in (("submissions", lambda: submissions.checklist_facts(s, ctx)),
                          ("receivables", lambda: receivables.checklist_facts(s, ctx)),
                          ("inspection", lambda: archive.exports(s, ctx.store_id))):
            try:
                out[key] = read()
            except AppError:
                continue
    with core_unit(engine) as u:  # read only: the unit is the reconciliation's reader, and nothing is written
        out["reconciliation"] = [v.as_dict() for v in month_blockers(u, ctx.store_id, first, last)]
        found = uploads.backlog(u, ctx.store_id, ctx.now)
        out["uploads"] = {"backlog": [b.as_dict() for b in found],
                          "late": [v.as_dict() for v in backlog_refusals(found, ctx.settings.rules.upload_backlog_max_hours)],
                          "period": [v.as_dict() for v in uploads.month_blockers(u, ctx.store_id, first, last)]}
    return out


@dataclass(frozen=True)
class Run:
    checklist: Checklist
    changes: dict[int, tuple[str, str]]  # item no -> (verdict then, verdict now), against the last run of the period
    previous_at: str | None


def run(engine: Engine, ctx: Ctx, first: date, last: date, verify: bool = True) -> Run:
    """The checklist for [first, last], recorded (audited) with each item's verdict."""
    if last < first:
        raise AppError(422, "VALIDATION", f"结束日期 {last} 早于开始日期 {first}", f"the period ends ({last}) before it "
                       f"starts ({first})", {"from": first.isoformat(), "to": last.isoformat()})
    found: AuditFacts | None = None
    if verify:
        with read_session(engine) as s:
            report = audit.verify(s, ctx.store_id)
        found = AuditFacts(report.entries, tuple(report.problems))
    result = checklist(engine, ctx.store_id, first, last, ctx.today, policy_of(ctx.settings), found,
                       wings(engine, ctx, first, last))
    with core_unit(engine) as u:
        s = orm(u)
        before = s.exec(select(ChecklistRun).where(ChecklistRun.store_id == ctx.store_id,
                                                   ChecklistRun.first == first, ChecklistRun.last == last)
                        .order_by(col(ChecklistRun.id).desc()).limit(1)).first()
        row = ChecklistRun(store_id=ctx.store_id, first=first, last=last, at=ctx.now, run_by=ctx.actor.name[:60],
                           verdicts={str(f.no): f.verdict.value for f in result.findings})
        s.add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "checklist.run", row,
                         note=f"{first}–{last}: {len(result.failed)} 项不合格 / item(s) failed")
    earlier = {int(k): str(v) for k, v in (before.verdicts if before else {}).items()}
    return Run(result, result.changes_since(earlier), before.at.isoformat() if before else None)


def attest(engine: Engine, ctx: Ctx, topic: str, note: str, photo: bytes | None = None) -> Attestation:
    """The person in charge confirms what no data proves (CHECK 13, 26); it stands `attestation_valid_days`."""
    try:
        kind = AttestationTopic(topic)
    except ValueError:
        raise AppError(422, "VALIDATION", f"未知的确认事项 {topic}", f"unknown attestation topic {topic!r}",
                       {"topic": topic, "known": [t.value for t in AttestationTopic]}) from None
    if not note.strip():
        raise AppError(422, "VALIDATION", "须写明核对情况", "say what was checked (a note is required)", {"note": note})
    if photo is not None and len(photo) > PHOTO_MAX_BYTES:
        raise AppError(413, "VALIDATION", "照片过大（上限 5 MB）", "the photo is too large (5 MB at most)",
                       {"bytes": len(photo)})
    row = Attestation(store_id=ctx.store_id, topic=kind.value, confirmed_by=ctx.actor_id, confirmed_at=ctx.now,
                      business_date=ctx.today,
                      valid_until=ctx.today + timedelta(days=ctx.settings.checklist.attestation_valid_days),
                      note=note.strip()[:500], photo=photo,
                      photo_sha256=hashlib.sha256(photo).hexdigest() if photo else "")
    with core_unit(engine) as u:
        orm(u).add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "checklist.attest", row, note=kind.label)
    return row


def record_training(engine: Engine, ctx: Ctx, held_on: date, topic: str, trainer: str,
                    attendees: list[str]) -> TrainingSession:
    """A training held (STAFF-02), with who attended (usernames of this store)."""
    if held_on > ctx.today:
        raise AppError(422, "VALIDATION", f"培训日期 {held_on} 在今天之后", f"the training date {held_on} is in the "
                       "future", {"held_on": held_on.isoformat()})
    if not topic.strip() or not trainer.strip() or not attendees:
        raise AppError(422, "VALIDATION", "须填写培训内容、讲师和参加人员", "topic, trainer and attendees are required", {})
    with core_unit(engine) as u:
        s = orm(u)
        users = {x.username: x for x in s.exec(select(User).where(User.store_id == ctx.store_id,
                                                                  col(User.username).in_(attendees)))}
        unknown = sorted(set(attendees) - set(users))
        if unknown:
            raise AppError(422, "VALIDATION", f"本店没有这些人员：{'、'.join(unknown)}",
                           f"no such staff in this store: {', '.join(unknown)}", {"unknown": unknown})
        row = TrainingSession(store_id=ctx.store_id, held_on=held_on, topic=topic.strip()[:200],
                              trainer=trainer.strip()[:50], attendees=sorted(id_of(x) for x in users.values()),
                              recorded_by=ctx.actor_id, recorded_at=ctx.now)
        s.add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "checklist.training", row, note=topic[:100])
    return row
