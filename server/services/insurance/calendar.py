"""The store's working-day calendar (ST-05's "30 working days"): the public holidays and the make-up working days
(调休) the store enters from the State Council's notice each year. Reference data: each change audited."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models.money import HolidayDay
from server.db.uow import Unit, orm
from server.errors import not_found, refused
from server.rules.receivables import DAY_KINDS, WORKDAY, Calendar
from server.services.context import Ctx


def set_day(u: Unit, ctx: Ctx, day: date, kind: str, name: str = "") -> HolidayDay:
    """List a day as a holiday or a make-up working day (a weekend worked); a day listed again is changed in place.
    A holiday may fall on a weekend (the notice gives whole ranges): it changes nothing there."""
    problems: list[Violation] = []
    if kind not in DAY_KINDS:
        problems.append(Violation("ST-05", f"未知的日历类型 {kind}（holiday 节假日 / workday 调休上班）",
                                  f"unknown calendar kind {kind!r} (holiday / workday)", {"kind": kind}))
    elif kind == WORKDAY and day.weekday() < 5:
        problems.append(Violation("ST-05", f"{day} 是工作日，不是调休上班日", f"{day} is a weekday: it is worked anyway"))
    if problems:
        raise refused(problems)
    s = orm(u)
    row = s.exec(select(HolidayDay).where(HolidayDay.store_id == ctx.store_id, HolidayDay.day == day)).first()
    before = audit.snapshot(row) if row is not None else None
    if row is None:
        row = HolidayDay(store_id=ctx.store_id, day=day, kind=kind, name=name.strip()[:40], set_by=ctx.actor.user_id,
                         set_at=ctx.now)
    else:
        row.kind, row.name, row.set_by, row.set_at = kind, name.strip()[:40], ctx.actor.user_id, ctx.now
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "calendar.set", row, before)
    return row


def remove_day(u: Unit, ctx: Ctx, day: date) -> None:
    s = orm(u)
    row = s.exec(select(HolidayDay).where(HolidayDay.store_id == ctx.store_id, HolidayDay.day == day)).first()
    if row is None:
        raise not_found("日历条目", "calendar day", day=day.isoformat())
    before = audit.snapshot(row)
    s.delete(row)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "calendar.remove", "holiday_day", before["id"], before, None)


def days(s: Session, ctx: Ctx, year: int | None = None) -> list[HolidayDay]:
    q = select(HolidayDay).where(HolidayDay.store_id == ctx.store_id)
    if year is not None:
        q = q.where(col(HolidayDay.day) >= date(year, 1, 1), col(HolidayDay.day) <= date(year, 12, 31))
    return list(s.exec(q.order_by(col(HolidayDay.day))))


def calendar(s: Session, ctx: Ctx) -> Calendar:
    return Calendar.of((d.day, d.kind) for d in days(s, ctx))
