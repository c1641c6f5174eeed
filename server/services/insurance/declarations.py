"""Declarations (申报) to the agency, one per statement period (ST-05): the amount declared is derived from the
period's settlements — the fund's part, by clearing group (server.insurance.clearing), dated by the day the centre
booked it, refunds (2103 cancellations) netted on the day they were made — and never typed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server import audit
from server.db.models import CardSettlement, SaleInsured, SettlementStatus
from server.db.models.base import table_of
from server.db.models.money import Declaration
from server.db.uow import Unit, orm
from server.errors import conflict, not_found, refused
from server.insurance.clearing import ClearingGroup, centre_day, group_of
from server.insurance.msgid import STAMP
from server.rules import receivables as rules
from server.rules.receivables import Period
from server.services.context import Ctx

_SETTLED = (SettlementStatus.SETTLED.value, SettlementStatus.CANCELLED.value)
_SLACK = timedelta(days=2)  # the centre's day and ours differ by a midnight at most: rows read around the period


@dataclass(frozen=True, slots=True)
class Derived:
    period: Period
    declared_fen: int
    settlements: int
    groups: list[dict[str, Any]]


def cancel_day(cancel_msgid: str, fallback: datetime, tz: ZoneInfo) -> date:
    """The day a cancellation (2103) was made: its msgid's stamp, which is the store's local time when it was sent
    (the centre books the refund then). A seam: the reconciliation may come to read the centre's own time."""
    stamp = cancel_msgid[-18:-4] if len(cancel_msgid) >= 18 else ""
    try:
        return datetime.strptime(stamp, STAMP).date()
    except ValueError:
        return fallback.astimezone(tz).date()


def derive(s: Session, ctx: Ctx, period: Period) -> Derived:
    """The fund's part of the period's settlements by clearing group: what a declaration of it says."""
    tz = ctx.settings.store.tz
    lo = datetime.combine(period.start, time.min, tz) - _SLACK
    hi = datetime.combine(period.end + timedelta(days=1), time.min, tz) + _SLACK
    cs, si = table_of(CardSettlement), table_of(SaleInsured)
    stamp_day = func.substr(cs.c.cancel_msgid, func.length(cs.c.cancel_msgid) - 17, 8)
    cancelled = SettlementStatus.CANCELLED.value
    # Core and the columns needed only: a month is tens of thousands of rows, each read once
    rows = s.connection().execute(
        core_select(cs.c.fund_pay_fen, cs.c.status, cs.c.answer, cs.c.cancel_msgid, cs.c.created_at,
                    cs.c.resolved_at, si.c.insuplc_admdvs)
        .select_from(cs.outerjoin(si, si.c.sale_id == cs.c.sale_id))
        .where(cs.c.store_id == ctx.store_id, cs.c.status.in_(_SETTLED),
               or_(cs.c.created_at.between(lo, hi),
                   and_(cs.c.status == cancelled,
                        stamp_day.between(f"{period.start:%Y%m%d}", f"{period.end:%Y%m%d}"))))).all()
    store_admdvs = ctx.settings.store.admdvs
    totals: dict[ClearingGroup, list[int]] = defaultdict(lambda: [0, 0, 0])  # fund_fen, settlements, refunds
    count = 0
    for fund, status, answer, cancel_msgid, created_at, resolved_at, admdvs in rows:
        answer = answer or {}
        group = group_of(answer, insuplc_admdvs=admdvs or "", store_admdvs=store_admdvs)
        if period.holds(centre_day(answer, tz, resolved_at or created_at)):
            totals[group][0] += fund
            totals[group][1] += 1
            count += 1
        if status == cancelled and period.holds(cancel_day(cancel_msgid, resolved_at or created_at, tz)):
            totals[group][0] -= fund
            totals[group][2] += 1
            count += 1
    groups: list[dict[str, Any]] = [{"insutype": g.insutype, "clr_type": g.clr_type, "clr_optins": g.clr_optins, "nonlocal": g.nonlocal_,
               "label": g.label_zh, "fund_fen": t[0], "settlements": t[1], "refunds": t[2]}
              for g, t in sorted(totals.items())]
    return Derived(period, sum(g["fund_fen"] for g in groups), count, groups)


def period_at(ctx: Ctx, start: date) -> Period | None:
    return rules.period_starting(start, ctx.settings.rules.statement_period)


def declare(u: Unit, ctx: Ctx, period_start: date) -> Declaration:
    """Declare one ended statement period, today: the amount derived, the interim ratio in force kept with it."""
    s = orm(u)
    period = period_at(ctx, period_start)
    before = s.exec(select(Declaration.id).where(Declaration.store_id == ctx.store_id,
                                                 Declaration.period_start == period_start)).first()
    problems = rules.declaration_refusals(period, ctx.today, before is not None)
    if problems:
        raise refused(problems)
    assert period is not None
    derived = derive(s, ctx, period)
    row = Declaration(store_id=ctx.store_id, period_start=period.start, period_end=period.end,
                      statement_period=ctx.settings.rules.statement_period, declared_fen=derived.declared_fen,
                      settlements=derived.settlements, groups=derived.groups,
                      interim_ratio=str(ctx.settings.rules.interim_payment_ratio), declared_on=ctx.today,
                      declared_by=ctx.actor_id, declared_at=ctx.now)
    s.add(row)
    try:
        s.flush()
    except IntegrityError:  # declared at the same moment by another session: its declaration stands
        raise conflict("ST-05", f"期间 {period.label} 已申报", f"period {period.label} is already declared",
                       period=period.label) from None
    audit.record_row(u, ctx.store_id, ctx.actor, "declaration.declare", row, note=period.label)
    return row


def get(s: Session, ctx: Ctx, declaration_id: int) -> Declaration:
    row = s.get(Declaration, declaration_id)
    if row is None or row.store_id != ctx.store_id:
        raise not_found("申报", "declaration", declaration_id=declaration_id)
    return row


def all_of(s: Session, ctx: Ctx, year: int | None = None) -> list[Declaration]:
    q = select(Declaration).where(Declaration.store_id == ctx.store_id)
    if year is not None:
        q = q.where(col(Declaration.period_start) >= date(year, 1, 1),
                    col(Declaration.period_start) <= date(year, 12, 31))
    return list(s.exec(q.order_by(col(Declaration.period_start))))
