"""Receivables from the fund (ST-05, ST-07): payments recorded from the agency's notices, write-offs of what it
refused, deducted or fined, the year-end assessment of the reserve, and the view per period and per year.

Only the 医保 administrator writes here (server.permissions); each write is one audited row, never changed. The
view derives every figure from those rows and the declarations (server.rules.receivables.standing): outstanding is
never a written-off fen; a duplicate payment is shown as due back; overdue is judged on the store's working-day
calendar and its clock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from server import audit
from server.db.models import Store
from server.db.models.base import id_of
from server.db.models.money import Declaration, ReceivablePayment, ReceivableWriteOff, ReserveAssessment
from server.db.uow import Unit, orm
from server.errors import refused
from server.rules import receivables as rules
from server.services.context import Ctx
from server.services.insurance import calendar as calendars
from server.services.insurance import declarations


def _assessment(s: Session, ctx: Ctx, year: int) -> ReserveAssessment | None:
    return s.exec(select(ReserveAssessment).where(ReserveAssessment.store_id == ctx.store_id,
                                                  ReserveAssessment.year == year)).first()


def _written_off(s: Session, declaration_id: int) -> int:
    return sum(s.exec(select(ReceivableWriteOff.amount_fen)
                      .where(ReceivableWriteOff.declaration_id == declaration_id)).all())


def record_payment(u: Unit, ctx: Ctx, declaration_id: int, amount_fen: int, received_on: date, reference: str,
                   part: str = rules.INTERIM, note: str = "") -> ReceivablePayment:
    """A payment as the agency's notice gives it. A duplicate is recorded (the money came) and shown as due back."""
    s = orm(u)
    decl = declarations.get(s, ctx, declaration_id)
    assessed = _assessment(s, ctx, decl.period_start.year) is not None
    problems = rules.payment_refusals(amount_fen, received_on, reference, part, decl.declared_on, ctx.today, assessed)
    if problems:
        raise refused(problems)
    row = ReceivablePayment(store_id=ctx.store_id, declaration_id=declaration_id, part=part, received_on=received_on,
                            amount_fen=amount_fen, reference=reference.strip()[:60], note=note.strip()[:200],
                            recorded_by=ctx.actor_id, recorded_at=ctx.now)
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "receivable.payment", row, note=reference)
    return row


def write_off(u: Unit, ctx: Ctx, declaration_id: int, kind: str, amount_fen: int, reason: str, written_on: date,
              reference: str = "") -> ReceivableWriteOff:
    """Write off what the agency refused (拒付), deducted (扣款) or fined (罚款): from now on the fund owes it not."""
    s = orm(u)
    decl = declarations.get(s, ctx, declaration_id)
    problems = rules.write_off_refusals(kind, amount_fen, reason, decl.declared_fen, _written_off(s, declaration_id),
                                        written_on, decl.declared_on, ctx.today)
    if problems:
        raise refused(problems)
    row = ReceivableWriteOff(store_id=ctx.store_id, declaration_id=declaration_id, kind=kind, amount_fen=amount_fen,
                             written_on=written_on, reason=reason.strip()[:200], reference=reference.strip()[:60],
                             recorded_by=ctx.actor_id, recorded_at=ctx.now)
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "receivable.write_off", row, note=reason)
    return row


def assess(u: Unit, ctx: Ctx, year: int, deducted_fen: int, reason: str = "", reference: str = "") -> ReserveAssessment:
    """The year-end assessment: it deducts from the year's reserve (what it deducts is never owed); the rest is to
    be returned (recorded as reserve payments when it comes)."""
    s = orm(u)
    held = deposit(s, ctx, year).held_fen
    problems = rules.assessment_refusals(year, deducted_fen, held, reason, ctx.today,
                                         _assessment(s, ctx, year) is not None)
    if problems:
        raise refused(problems)
    row = ReserveAssessment(store_id=ctx.store_id, year=year, deducted_fen=deducted_fen, reason=reason.strip()[:200],
                            reference=reference.strip()[:60], assessed_on=ctx.today, recorded_by=ctx.actor_id,
                            recorded_at=ctx.now)
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "receivable.assess", row, note=reason)
    return row


# --- the view ----------------------------------------------------------------------------------------------------

def _facts(s: Session, ids: list[int]) -> tuple[dict[int, list[rules.PaymentFact]], dict[int, int]]:
    payments: dict[int, list[rules.PaymentFact]] = defaultdict(list)
    written: dict[int, int] = defaultdict(int)
    if ids:
        for p in s.exec(select(ReceivablePayment).where(col(ReceivablePayment.declaration_id).in_(ids))):
            payments[p.declaration_id].append(rules.PaymentFact(id_of(p), p.received_on, p.amount_fen, p.reference,
                                                                p.part))
        for w in s.exec(select(ReceivableWriteOff).where(col(ReceivableWriteOff.declaration_id).in_(ids))):
            written[w.declaration_id] += w.amount_fen
    return payments, written


def _first_uses(s: Session, ctx: Ctx) -> dict[str, list[tuple[int, int]]]:
    """Every notice reference the store has recorded: its payments as (id, declaration), first first."""
    uses: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for pid, decl_id, ref in s.exec(select(ReceivablePayment.id, ReceivablePayment.declaration_id,
                                           ReceivablePayment.reference)
                                    .where(ReceivablePayment.store_id == ctx.store_id)
                                    .order_by(col(ReceivablePayment.id))):
        uses[rules.reference_key(ref)].append((int(pid or 0), decl_id))
    return uses


def standings(s: Session, ctx: Ctx, decls: list[Declaration]) -> dict[int, rules.Standing]:
    """Each declaration's standing; a notice recorded first against another declaration makes a later use of it a
    duplicate here too."""
    cal = calendars.calendar(s, ctx)
    n = ctx.settings.rules.payment_working_days
    payments, written = _facts(s, [id_of(d) for d in decls])
    uses = _first_uses(s, ctx)
    out: dict[int, rules.Standing] = {}
    for d in decls:
        did = id_of(d)
        elsewhere = {ref: min(pid for pid, other in used if other != did) for ref, used in uses.items()
                     if any(other != did for _, other in used)}
        out[did] = rules.standing(d.declared_fen, Decimal(d.interim_ratio), d.declared_on, n, cal, ctx.today,
                                  payments[did], written[did], elsewhere)
    return out


def deposit(s: Session, ctx: Ctx, year: int) -> rules.YearDeposit:
    decls = declarations.all_of(s, ctx, year)
    held = sum(st.reserve_fen for st in standings(s, ctx, decls).values())
    payments, _ = _facts(s, [id_of(d) for d in decls])
    returned = sum(p.amount_fen for ps in payments.values() for p in ps if p.part == rules.RESERVE)
    assessment = _assessment(s, ctx, year)
    return rules.YearDeposit(year, held, assessment.deducted_fen if assessment else 0, returned,
                             assessment is not None)


_FIGURES = ("declared_fen", "written_off_fen", "approved_fen", "interim_due_fen", "reserve_fen", "paid_interim_fen",
            "paid_reserve_fen", "due_back_fen", "outstanding_fen")


def view(s: Session, ctx: Ctx, year: int | None = None) -> dict[str, Any]:
    """Per declaration (period): declared, paid, reserve held, written off, outstanding, due back, overdue; totals;
    the deposits per year; the years the calendar lists no day of (due dates there count weekends only); and the
    ended periods of the year not declared yet."""
    decls = declarations.all_of(s, ctx, year)
    table = standings(s, ctx, decls)
    rows: list[dict[str, Any]] = []
    for d in decls:
        st = table[id_of(d)]
        rows.append({"declaration_id": id_of(d), "period": rules.Period(d.period_start, d.period_end).label,
                     "period_start": d.period_start, "period_end": d.period_end, "declared_on": d.declared_on,
                     "interim_ratio": d.interim_ratio}
                    | asdict(st))
    totals = {k: sum(r[k] for r in rows) for k in _FIGURES}
    years = sorted({d.period_start.year for d in decls})
    deposits = [asdict(dep) | {"released_fen": dep.released_fen, "still_held_fen": dep.still_held_fen,
                               "due_back_fen": dep.due_back_fen}
                for dep in (deposit(s, ctx, y) for y in years)]
    listed = {d.day.year for d in calendars.days(s, ctx)}
    store = s.get(Store, ctx.store_id)
    undeclared = _undeclared(ctx, year or ctx.today.year, {d.period_start for d in decls},
                             store.agreement_start if store is not None else None)
    due_years = sorted({r["declared_on"].year for r in rows} | {r["due_on"].year for r in rows})
    return {"today": ctx.today, "declarations": rows, "totals": totals | {"overdue": sum(r["overdue"] for r in rows)},
            "deposits": deposits, "calendar_missing_years": [y for y in due_years if y not in listed],
            "undeclared": undeclared}


def _undeclared(ctx: Ctx, year: int, declared: set[date], since: date | None) -> list[str]:
    """The year's statement periods that have ended with no declaration (the store's clock), from the 医保
    agreement's start when the store has one."""
    every = ctx.settings.rules.statement_period
    out: list[str] = []
    p = rules.period_of(date(year, 1, 1), every)
    while p.start.year == year and p.end < ctx.today:
        if p.start not in declared and (since is None or p.end >= since):
            out.append(p.label)
        p = rules.period_of(p.end + timedelta(days=1), every)
    return out


def history(s: Session, ctx: Ctx, declaration_id: int) -> dict[str, Any]:
    """One declaration with its groups, payments and write-offs."""
    decl = declarations.get(s, ctx, declaration_id)
    st = standings(s, ctx, [decl])[declaration_id]
    pays = s.exec(select(ReceivablePayment).where(ReceivablePayment.declaration_id == declaration_id)
                  .order_by(col(ReceivablePayment.received_on), col(ReceivablePayment.id))).all()
    offs = s.exec(select(ReceivableWriteOff).where(ReceivableWriteOff.declaration_id == declaration_id)
                  .order_by(col(ReceivableWriteOff.id))).all()
    dup = set(st.duplicates)
    return {"declaration": decl.model_dump(), "standing": asdict(st),
            "payments": [p.model_dump() | {"duplicate": id_of(p) in dup} for p in pays],
            "write_offs": [w.model_dump() for w in offs]}


def checklist_facts(s: Session, ctx: Ctx) -> dict[str, Any]:
    """What the compliance checklist's items 5 and 6 judge (ST-05, ST-07), as plain rows: the declarations overdue
    on the store's clock, the money due back to the fund, what was written off, the ended periods not declared,
    and each year's deposit. A seam for reports.checklist (Facts.extra "receivables" and "reserve")."""
    view_now = view(s, ctx)
    every = view_now["declarations"]
    return {
        "overdue": [{"period": r["period"], "due_on": r["due_on"], "outstanding_fen": r["outstanding_fen"]}
                    for r in every if r["overdue"]],
        "due_back": [{"period": r["period"], "due_back_fen": r["due_back_fen"]} for r in every if r["due_back_fen"]],
        "written_off_fen": sum(r["written_off_fen"] for r in every),
        "undeclared": view_now["undeclared"],
        "deposits": view_now["deposits"],
        "calendar_missing_years": view_now["calendar_missing_years"],
    }
