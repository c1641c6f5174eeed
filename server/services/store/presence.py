"""Who counts as a pharmacist on duty in the store now (RX-10 with STAFF-01), and the time the store sold without one.

A duty row is open from the pharmacist's log-on to their log-off (or the shift's close, or their account's freeze).
Whether it counts is decided again at every read, by server.rules.staff: a frozen account, or a contract or
qualification that has ended today, stops counting at once, whatever the row says. The read is one prepared
statement, so the scan's hot path can ask it (only for the goods that wait for a pharmacist).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.db.models import PharmacistDuty, Sale, SaleStatus, Shift, StaffProfile, User, UserStatus
from server.db.models.base import table_of
from server.db.prepared import Prepared
from server.db.uow import Reader
from server.rules.staff import DutyFacts, StaffRecord, present_pharmacists, uncovered
from server.services.context import Ctx

DUTY: sa.Table = table_of(PharmacistDuty)
SHIFT: sa.Table = table_of(Shift)
USER: sa.Table = table_of(User)
PROFILE: sa.Table = table_of(StaffProfile)
SALE: sa.Table = table_of(Sale)

_DUTY_COLUMNS = (DUTY.c.user_id, DUTY.c.shift_id, USER.c.display_name, USER.c.status, USER.c.frozen_at,
                 PROFILE.c.qualification, PROFILE.c.qualification_no, PROFILE.c.registered_store_code,
                 PROFILE.c.contract_start, PROFILE.c.contract_end, PROFILE.c.qualification_expiry)


def _duties() -> sa.Select[Any]:
    return (sa.select(*_DUTY_COLUMNS, DUTY.c.on_at, DUTY.c.off_at)
            .join(USER, USER.c.id == DUTY.c.user_id)
            .outerjoin(PROFILE, PROFILE.c.user_id == DUTY.c.user_id)
            .where(DUTY.c.store_id == sa.bindparam("sid")))


# Open duties in the store's open shifts, in the order the pharmacists came on.
_OPEN_DUTIES = Prepared(_duties().join(SHIFT, SHIFT.c.id == DUTY.c.shift_id)
                        .where(DUTY.c.off_at.is_(None), SHIFT.c.status == "open")
                        .order_by(DUTY.c.on_at, DUTY.c.id))


@dataclass(frozen=True, slots=True)
class Present:
    user_id: int
    name: str
    shift_id: int


def _facts(row: Any) -> DutyFacts:
    record = None if row.qualification is None else StaffRecord(
        row.qualification, row.qualification_no, row.registered_store_code, row.contract_start, row.contract_end,
        row.qualification_expiry)
    return DutyFacts(row.user_id, row.display_name, row.status != UserStatus.ACTIVE.value, record)


def present(r: Reader, ctx: Ctx) -> list[Present]:
    """The pharmacists who count as on duty in the store now, in the order they came on."""
    r.flush()
    rows = _OPEN_DUTIES.rows(r.connection(), {"sid": ctx.store_id})
    counted = {d.user_id for d in present_pharmacists([_facts(row) for row in rows], ctx.settings.store.fixmedins_code,
                                                      ctx.today, ctx.settings.rules.min_contract_years)}
    return [Present(row.user_id, row.display_name, row.shift_id) for row in rows if row.user_id in counted]


# --- the record: when the store sold without a pharmacist ---------------------------------------------------

_DUTIES_BETWEEN = Prepared(_duties().where(DUTY.c.on_at < sa.bindparam("end"),
                                           sa.or_(DUTY.c.off_at.is_(None), DUTY.c.off_at > sa.bindparam("start"))))
_SHIFTS_BETWEEN = Prepared(sa.select(SHIFT.c.opened_at, SHIFT.c.closed_at)
                           .where(SHIFT.c.store_id == sa.bindparam("sid"), SHIFT.c.opened_at < sa.bindparam("end"),
                                  sa.or_(SHIFT.c.closed_at.is_(None), SHIFT.c.closed_at > sa.bindparam("start"))))
_SALES_BETWEEN = Prepared(sa.select(SALE.c.id, SALE.c.completed_at)
                          .where(SALE.c.store_id == sa.bindparam("sid"), SALE.c.status == SaleStatus.COMPLETED.value,
                                 SALE.c.completed_at >= sa.bindparam("start"), SALE.c.completed_at < sa.bindparam("end"))
                          .order_by(SALE.c.completed_at))


@dataclass(frozen=True, slots=True)
class Unattended:
    start: datetime
    end: datetime
    sales: list[str]  # the sales completed in it

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def _valid_until(row: Any, ctx: Ctx, end: datetime) -> datetime:
    """When a duty stopped counting: its log-off, its pharmacist's freeze, or the end of the day their contract or
    qualification ran to (the store's day), whichever came first."""
    ends = [end]
    if row.off_at is not None:
        ends.append(row.off_at)
    if row.frozen_at is not None:
        ends.append(row.frozen_at)
    for last_day in (row.contract_end, row.qualification_expiry):
        if last_day is not None:
            ends.append(datetime.combine(last_day + timedelta(days=1), datetime.min.time(), ctx.settings.store.tz))
    return min(ends)


def unattended(r: Reader, ctx: Ctx, start: datetime, end: datetime) -> list[Unattended]:
    """RX-10's record for the checklist: the periods between start and end when the store sold — its shifts were
    open, or all day for a 24-hour store (`[rules] store_24h`) — and no pharmacist's valid duty covered, each with
    the sales completed in it. A duty counts from its log-on while the pharmacist's record passed STAFF-01."""
    r.flush()
    conn = r.connection()
    params = {"sid": ctx.store_id, "start": start, "end": end}
    if ctx.settings.rules.store_24h:
        selling = [(start, end)]
    else:
        selling = [(max(a, start), min(b or end, end)) for a, b in _SHIFTS_BETWEEN.rows(conn, params)]
    covered = []
    for row in _DUTIES_BETWEEN.rows(conn, params):
        # STAFF-01 as it stood on the duty's first day (a freeze since is the end of the duty, _valid_until)
        facts = DutyFacts(row.user_id, row.display_name, False, _facts(row).record)
        day = row.on_at.astimezone(ctx.settings.store.tz).date()
        if present_pharmacists([facts], ctx.settings.store.fixmedins_code, day, ctx.settings.rules.min_contract_years):
            covered.append((max(row.on_at, start), _valid_until(row, ctx, end)))
    gaps = uncovered(selling, covered)
    sales = _SALES_BETWEEN.rows(conn, params)
    return [Unattended(a, b, [sale.id for sale in sales if a <= sale.completed_at < b]) for a, b in gaps]
