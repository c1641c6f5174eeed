"""Close a month (月结, ST-01): the stock snapshot and the lock, refused while the month has anything half done.

Tryton's stock period is the model: a close records, per batch, the sums of every movement dated on or before
its last day (quantity, cost, retail) — the last close's snapshot plus the month's movements, so a close reads a
month, not the history — and from then on nothing can be dated on or before that day — the ledger
refuses (server.services.stock.ledger.refuse_closed) and so does the database (migration 0024). The next
period's 进销存 opens from the snapshot (reports.queries.movement_sums) instead of replaying the whole history.

Months close in order, once each, only after they have ended, only by the store manager (Action.PERIOD_CLOSE),
and only when server.services.period.blockers finds nothing. There is no reopening (`reopen` says so): a
correction is a new record in the open period, naming what it corrects (a late return of a sale from a closed
month is dated today and references its sale).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server import audit
from server.db.models.base import id_of, table_of
from server.db.models.period import PeriodClose, PeriodSnapshot
from server.db.uow import Unit, orm
from server.errors import AppError, refused
from server.rules.period import closable, month_bounds, reopen_refused
from server.services.context import Ctx
from server.services.period import blockers
from server.services.stock import ledger

_SNAPSHOT = table_of(PeriodSnapshot)
_CLOSE = table_of(PeriodClose)
_EARLIEST = date(1, 1, 1)


def _month(month: str) -> tuple[date, date]:
    try:
        return month_bounds(month)
    except ValueError as exc:
        raise AppError(422, "VALIDATION", f"月份格式应为 YYYY-MM：{month}", str(exc), {"month": month}) from exc


def close_month(u: Unit, ctx: Ctx, month: str, note: str = "") -> PeriodClose:
    """Close `month` ('YYYY-MM'): refused (ST-01/ST-02) when it has not ended, is closed already, is not the
    next after the last close, or has anything a blocker names; else the snapshot, the close and its audit
    entry (the snapshot imaged with it), in the caller's unit."""
    first, last = _month(month)
    ledger.hold_still(u)  # PostgreSQL: movements under way commit first, none start until the close commits
    closed = ledger.closed_to(u, ctx.store_id)
    if problems := closable(first, last, ctx.today, closed):
        raise refused(problems, 409)
    since = _EARLIEST if closed is None else date.fromordinal(closed.toordinal() + 1)
    if problems := blockers.blocking(u, ctx.store_id, since, last):
        raise refused(problems, 409)
    stock, last_movement = _stock_at(u, ctx.store_id, closed, last)
    row = PeriodClose(store_id=ctx.store_id, first_day=first, last_day=last,
                      closed_by=ctx.actor.user_id, closed_at=ctx.now, last_movement_id=last_movement,
                      batches=len({b for b, *_ in stock}), note=note)
    orm(u).add(row)
    u.flush()
    close_id = id_of(row)
    values = [{"store_id": ctx.store_id, "close_id": close_id, "batch_id": b, "item_id": i, "location": loc, "qty": q,
               "cost_fen": c, "retail_fen": r} for b, i, loc, q, c, r in stock]
    conn = u.connection()
    if values:
        conn.execute(sa.insert(_SNAPSHOT), values)
    written = conn.execute(sa.select(_SNAPSHOT).where(_SNAPSHOT.c.close_id == close_id)
                           .order_by(_SNAPSHOT.c.id)).all()
    images = [audit.image(PeriodSnapshot, dict(r._mapping)) for r in written]
    audit.record(u, ctx.store_id, ctx.actor, "period.close", "period_close", close_id, None,
                 audit.snapshot(row) | {"snapshot": audit.compact(images)},
                 note=f"月结 {month} / period closed: {len(stock)} batch × location rows")
    return row


def _stock_at(u: Unit, store_id: int, closed: date | None, last: date
              ) -> tuple[list[tuple[int, int, str, int, int, int]], int]:
    """Each batch's stock per location at the end of `last`: the last close's snapshot plus the movements dated
    after it (the lock keeps anything from being dated inside it since), or the whole history at a store's first
    close; those whose sums are all zero left out."""
    moved, last_movement = ledger.stock_through(u, store_id, last, after=closed)
    acc: dict[tuple[int, str], list[int]] = {}
    if closed is not None:
        c = _SNAPSHOT.c
        previous = (sa.select(c.batch_id, c.item_id, c.location, c.qty, c.cost_fen, c.retail_fen)
                    .join(_CLOSE, _CLOSE.c.id == c.close_id)
                    .where(_CLOSE.c.store_id == store_id, _CLOSE.c.last_day == closed))
        for b, i, loc, q, cost, r in u.connection().execute(previous):
            acc[(int(b), str(loc))] = [int(i), int(q), int(cost), int(r)]
    for b, i, loc, q, cost, r in moved:
        a = acc.setdefault((b, loc), [i, 0, 0, 0])
        a[1] += q
        a[2] += cost
        a[3] += r
    return [(b, i, loc, q, cost, r) for (b, loc), (i, q, cost, r) in sorted(acc.items()) if q or cost or r], \
        last_movement


def reopen(month: str) -> None:
    """ST-02: always refused — a closed period is final; corrections go into the open period."""
    raise refused([reopen_refused(month)], 409)


def closes(s: Session, store_id: int) -> list[dict[str, Any]]:
    """The store's closed periods, latest first, with their totals at the close."""
    rows = s.exec(select(PeriodClose).where(PeriodClose.store_id == store_id)
                  .order_by(col(PeriodClose.last_day).desc())).all()
    totals = {int(cid): (int(q), int(c), int(r)) for cid, q, c, r in s.connection().execute(
        sa.select(_SNAPSHOT.c.close_id, sa.func.sum(_SNAPSHOT.c.qty), sa.func.sum(_SNAPSHOT.c.cost_fen),
                  sa.func.sum(_SNAPSHOT.c.retail_fen)).where(_SNAPSHOT.c.store_id == store_id)
        .group_by(_SNAPSHOT.c.close_id))}
    return [{"id": r.id, "month": f"{r.last_day:%Y-%m}", "first_day": r.first_day.isoformat(),
             "last_day": r.last_day.isoformat(), "closed_by": r.closed_by, "closed_at": r.closed_at.isoformat(),
             "batches": r.batches, "qty": totals.get(id_of(r), (0, 0, 0))[0],
             "cost_fen": totals.get(id_of(r), (0, 0, 0))[1], "retail_fen": totals.get(id_of(r), (0, 0, 0))[2]}
            for r in rows]
