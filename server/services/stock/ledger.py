"""The stock ledger (ST-02): the one door every stock movement goes through, and what may be sold.

Stock is the sum of movements. `append` writes the movements and moves each batch's balance
(batch_balance) with them in the same transaction, so reads and sales need not sum the whole history;
`dingdian audit verify` recomputes the balances from the ledger. A sale, a return, an opening
inventory — and next the receiving, counts, losses, transfers — all append here; nothing else in the
service writes `stock_movement` or `batch_balance` (an import contract and a test hold that). What the insurance
centre must hear of each movement (3501–3507) is written to the uploads' outbox in the same transaction, here
(server.services.outbox.from_ledger): one hook for every path that moves stock.

GSP-06 "expired or stopped stock is never sold" is written here once, in two forms that must agree:
`blocking_reasons` for Python (the refusal names each batch and why) and `sellable_batch` for SQL (the
scan's stock figure, FEFO, the catalog search, the reports). A test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlmodel import Session, col, select

from catalog.violations import Violation
from server.db.models import Batch, BatchStatus, Item, SaleLine
from server.db.models.base import table_of
from server.db.models.ledger import BatchBalance, StockMovement
from server.db.models.period import PeriodClose
from server.db.prepared import Prepared, PreparedIn
from server.db.uow import Reader, Unit
from server.errors import AppError
from server.rules import movements
from server.rules.period import dated_in_closed
from server.services import outbox
from server.services.context import Ctx

SELLABLE = "sellable"
QUARANTINE = "quarantine"  # returned goods awaiting inspection: never sold from there

Movement = StockMovement  # a movement as read back (moved_for); written only through append
_BAL: sa.Table = table_of(BatchBalance)
_MOVEMENT: sa.Table = table_of(StockMovement)
_BATCH: sa.Table = table_of(Batch)


# --- what may be sold (GSP-06) -----------------------------------------------------------------------

class Blocked:
    EXPIRED = "expired"
    STOPPED = "stopped"


def blocking_reasons(expires_on: date, status: str, today: date) -> list[str]:
    """Why a batch cannot be sold today (empty: it can): expired before today, or stopped for a quality doubt."""
    out = []
    if expires_on < today:
        out.append(Blocked.EXPIRED)
    if status == BatchStatus.STOPPED.value:
        out.append(Blocked.STOPPED)
    return out


def sellable_batch(batch: sa.Table | Any, today: Any) -> sa.ColumnElement[bool]:
    """The same rule in SQL, over a batch table (or alias) and today's date (a value or a bind parameter)."""
    return sa.and_(batch.c.expires_on >= today, batch.c.status != BatchStatus.STOPPED.value)


def sellable_stock_of(item_id: Any, today: Any) -> sa.Select[Any]:
    """An item's stock that can be sold today, in split units: its batches' sellable balances that pass
    `sellable_batch` (for a correlated sub-select, pass the item's id column)."""
    return (sa.select(sa.func.coalesce(sa.func.sum(_BAL.c.qty), 0))
            .join(_BATCH, _BATCH.c.id == _BAL.c.batch_id)
            .where(_BAL.c.item_id == item_id, _BAL.c.location == SELLABLE, _BAL.c.qty > 0,
                   sellable_batch(_BATCH, today)))


def expiry_refusals(batch: Batch, item: Item, on: date) -> list[Violation]:
    """GSP-06 worded for a batch: why it cannot be sold (`blocking_reasons`), naming the batch."""
    out: list[Violation] = []
    for reason in blocking_reasons(batch.expires_on, batch.status, on):
        if reason == Blocked.EXPIRED:
            out.append(Violation("GSP-06", f"{item.name} 批号 {batch.lot_no} 已于 {batch.expires_on} 过期，不得销售",
                                 f"batch {batch.batch_no} of {item.code} expired on {batch.expires_on}",
                                 {"batch": batch.batch_no, "expires_on": batch.expires_on.isoformat()}))
        else:
            out.append(Violation("GSP-06", f"{item.name} 批号 {batch.lot_no} 因质量问题停售：{batch.stop_reason}",
                                 f"batch {batch.batch_no} of {item.code} is stopped: {batch.stop_reason}",
                                 {"batch": batch.batch_no, "reason": batch.stop_reason}))
    return out


def next_expiry_of(item_id: Any, today: Any) -> sa.Select[Any]:
    """The expiry of the batch a sale of the item takes first (FEFO: the earliest sellable one holding stock), for
    the scan's near-expiry warning (a correlated sub-select over the item's id column)."""
    return (sa.select(sa.func.min(_BATCH.c.expires_on))
            .join(_BAL, _BATCH.c.id == _BAL.c.batch_id)
            .where(_BAL.c.item_id == item_id, _BAL.c.location == SELLABLE, _BAL.c.qty > 0,
                   sellable_batch(_BATCH, today)))


_FIRST_LOT = Prepared(sa.select(_BATCH.c.lot_no).join(_BAL, _BATCH.c.id == _BAL.c.batch_id)
                     .where(_BAL.c.store_id == sa.bindparam("sid"), _BAL.c.item_id == sa.bindparam("item"),
                            _BAL.c.location == SELLABLE, _BAL.c.qty > 0, sellable_batch(_BATCH, sa.bindparam("today")))
                     .order_by(_BATCH.c.expires_on, _BATCH.c.id).limit(1))


def first_batch_lot(s: Reader, ctx: Ctx, item_id: int) -> str:
    """The lot number (批号) of the batch a sale of the item takes first (FEFO), for the warning's words."""
    return str(_FIRST_LOT.scalar(s.connection(), {"sid": ctx.store_id, "item": item_id, "today": ctx.today}) or "")


# Prepared: the catalog search asks it for the twenty items of every keystroke's answer.
_SELLABLE_BY_ITEM = PreparedIn(lambda ids: sa.select(_BAL.c.item_id, sa.func.sum(_BAL.c.qty))
                               .join(_BATCH, _BATCH.c.id == _BAL.c.batch_id)
                               .where(_BAL.c.store_id == sa.bindparam("sid"), _BAL.c.item_id.in_(ids),
                                      _BAL.c.location == SELLABLE, _BAL.c.qty > 0,
                                      sellable_batch(_BATCH, sa.bindparam("today")))
                               .group_by(_BAL.c.item_id))


def sellable_by_item(s: Reader, ctx: Ctx, item_ids: list[int]) -> dict[int, int]:
    """Sellable stock per item (expired, stopped and quarantined stock excluded), in split units: the
    figure the catalog search and the till show."""
    if not item_ids:
        return {}
    s.flush()
    rows = _SELLABLE_BY_ITEM.rows(s.connection(), item_ids, {"sid": ctx.store_id, "today": ctx.today})
    found = {int(i): int(q) for i, q in rows}
    return {i: found.get(i, 0) for i in item_ids}


@dataclass
class Availability:
    """What of an item can be sold now: good batches (FEFO order) and the stock that cannot, with why."""

    good: int = 0
    good_batches: list[tuple[Batch, int]] = field(default_factory=list)
    blocked: list[tuple[Batch, int, list[Violation]]] = field(default_factory=list)


def availability(s: Session, ctx: Ctx, item: Item) -> Availability:
    """The item's batches holding sellable stock, each good (FEFO order) or blocked with its reasons."""
    out = Availability()
    rows = s.exec(select(Batch, BatchBalance.qty).join(BatchBalance, col(BatchBalance.batch_id) == col(Batch.id))
                  .where(BatchBalance.store_id == ctx.store_id, BatchBalance.item_id == item.id,
                         BatchBalance.location == SELLABLE, col(BatchBalance.qty) > 0)
                  .order_by(col(Batch.expires_on), col(Batch.id))).all()
    for batch, qty in rows:
        if problems := expiry_refusals(batch, item, ctx.today):
            out.blocked.append((batch, int(qty), problems))
        else:
            out.good += int(qty)
            out.good_batches.append((batch, int(qty)))
    return out


def _units(item: Item, base: int) -> str:
    if item.split_ratio > 1 and item.split_unit:
        whole, rest = divmod(base, item.split_ratio)
        return f"{whole}{item.unit}{rest}{item.split_unit}" if rest else f"{whole}{item.unit}"
    return f"{base}{item.unit}"


def shortage(item: Item, need: int, avail: Availability) -> AppError:
    """The refusal when stock would go below zero: the item and what is available, or the blocked batches."""
    if avail.blocked and need <= avail.good + sum(q for _, q, _ in avail.blocked):
        first = avail.blocked[0][2][0]
        return AppError(409, "GSP-06", f"{first.message_zh}（可售 {_units(item, avail.good)}）",
                        f"{first.message_en} (sellable: {avail.good})",
                        {"item": item.code, "available": avail.good, "requested": need,
                         "blocked": [{"batch": b.batch_no, "qty": q, "reasons": [v.as_dict() for v in vs]}
                                     for b, q, vs in avail.blocked]})
    return AppError(409, "STOCK", f"{item.name} 库存不足：可售 {_units(item, avail.good)}，需要 {_units(item, need)}",
                    f"not enough stock of {item.code}: {avail.good} available, {need} requested",
                    {"item": item.code, "available": avail.good, "requested": need})


def fefo(batches: Sequence[tuple[int, int]], need: int) -> list[tuple[int, int]]:
    """Takes of `need` from sellable batches (batch id, qty), earliest expiry first (the caller's order):
    [(batch id, qty taken), ...]. The caller has checked the batches hold enough."""
    out = []
    for batch_id, qty in batches:
        if need == 0:
            break
        take = min(qty, need)
        if take:
            out.append((batch_id, take))
            need -= take
    if need:
        raise ValueError("fefo: not enough in the batches given")
    return out


# --- reading the ledger --------------------------------------------------------------------------------

def moved_for(s: Session, ref_type: str, ref_ids: list[str]) -> dict[str, list[StockMovement]]:
    """The movements that reference each document line (a sale line, a return line …), oldest first."""
    rows = s.exec(select(StockMovement).where(StockMovement.ref_type == ref_type, col(StockMovement.ref_id).in_(ref_ids))
                  .order_by(col(StockMovement.id))).all()
    out: dict[str, list[StockMovement]] = {}
    for mv in rows:
        out.setdefault(mv.ref_id, []).append(mv)
    return out


def net_by_batch(s: Session, ref_type: str, ref_id: str) -> dict[int, tuple[int, int]]:
    """What the movements of one document line moved, net, per batch: (qty, cost_fen)."""
    rows = s.exec(select(StockMovement.batch_id, sa.func.sum(StockMovement.qty), sa.func.sum(StockMovement.cost_fen))
                  .where(StockMovement.ref_type == ref_type, StockMovement.ref_id == ref_id)
                  .group_by(col(StockMovement.batch_id))).all()
    return {int(b): (int(q), int(c)) for b, q, c in rows}


def batch_stock(s: Session, ctx: Ctx, item_id: int, location: str = SELLABLE) -> list[tuple[Batch, int]]:
    """Each batch of an item with its stock in one location, earliest expiry first (empty ones too)."""
    rows = s.exec(
        select(Batch, sa.func.coalesce(BatchBalance.qty, 0))
        .join(BatchBalance, (col(BatchBalance.batch_id) == col(Batch.id)) & (col(BatchBalance.location) == location),
              isouter=True)
        .where(Batch.store_id == ctx.store_id, Batch.item_id == item_id)
        .order_by(col(Batch.expires_on), col(Batch.id))
    ).all()
    return [(b, int(q)) for b, q in rows]


_LINE: sa.Table = table_of(SaleLine)
# A sale's items' batches holding stock on the shelf, locked for the taking, found through the sale's lines.
_STOCK_OF_SALE = Prepared(sa.select(_BAL.c.batch_id, _BAL.c.item_id, _BAL.c.qty, _BATCH.c.expires_on, _BATCH.c.status)
                          .join(_BATCH, _BATCH.c.id == _BAL.c.batch_id)
                          .where(_BAL.c.store_id == sa.bindparam("sid"),
                                 _BAL.c.item_id.in_(sa.select(_LINE.c.item_id)
                                                    .where(_LINE.c.sale_id == sa.bindparam("sale"))),
                                 _BAL.c.location == SELLABLE, _BAL.c.qty > 0)
                          # one fixed order for every seller: two tills never wait on each other's locks crosswise
                          .order_by(_BAL.c.item_id, _BATCH.c.expires_on, _BATCH.c.id)
                          .with_for_update(of=_BAL))


def fefo_for_sale(u: Unit, ctx: Ctx, sale_id: str) -> dict[int, list[list[int]]]:
    """Per item of the sale, its sellable batches [[batch id, qty], …], earliest expiry first, locked until the
    sale commits; batches the rule blocks (expired, stopped) are left out. What the stock taken cost is the
    ledger's to say (`append`: each movement's share of its batch's cost on hand)."""
    out: dict[int, list[list[int]]] = {}
    for r in _STOCK_OF_SALE.rows(u.connection(), {"sid": ctx.store_id, "sale": sale_id}):
        if not blocking_reasons(r.expires_on, r.status, ctx.today):
            out.setdefault(r.item_id, []).append([r.batch_id, r.qty])
    return out


# --- the one writer ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Move:
    """One change of one batch's stock, in split units (signed: + in, - out).

    Stock in says what it cost (`cost_fen`, ≥ 0: a receipt line's cost, a return's share of what its sale took);
    stock out leaves `cost_fen` None and the ledger takes its share of the batch's cost on hand (see `share`).
    `retail_fen` is its worth at the item's price (or, for a sale, at the price it was sold), signed like qty."""

    batch_id: int
    item_id: int
    kind: str  # a MovementKind value (server.rules.movements: the one list)
    qty: int
    ref_type: str
    ref_id: str
    location: str = SELLABLE
    note: str = ""
    corrects_id: int | None = None
    cost_fen: int | None = None
    retail_fen: int = 0


def share(cost_on_hand: int, qty_on_hand: int, take: int) -> int:
    """What `take` of `qty_on_hand` units costs, out of `cost_on_hand` fen: its share rounded half up.

    Cost is kept per batch and location (batch_balance.cost_fen), a moving average over that one batch: a batch
    is one delivery at one price, so its average only moves by rounding, and the 3503/3505 rows, a recall and
    the 进销存 by batch all name a batch — a per-item average would have to be spread back over batches. Each
    outflow takes its rounded share and the balance keeps the rest, so the last unit out takes the remainder:
    the fen never leak out of the ledger, a batch at zero stock has zero cost, and the cost on hand is always
    the sum of the batch's movements' cost."""
    if take > qty_on_hand or qty_on_hand <= 0:
        raise ValueError("share: more taken than is on hand")
    return (2 * cost_on_hand * take + qty_on_hand) // (2 * qty_on_hand)


_MOVEMENT_KEYS = ("store_id", "batch_id", "item_id", "kind", "qty", "location", "at", "user_id", "ref_type", "ref_id",
                  "corrects_id", "note", "cost_fen", "retail_fen", "business_date")
_ADD_MOVEMENTS = Prepared(sa.insert(_MOVEMENT), _MOVEMENT_KEYS)
_ADD_MOVEMENT = Prepared(sa.insert(_MOVEMENT).returning(_MOVEMENT.c.id), _MOVEMENT_KEYS)
# The balances stock is taken from, locked until the caller commits (a sale's are locked already: fefo_for_sale).
_HELD = PreparedIn(lambda ids: sa.select(_BAL.c.batch_id, _BAL.c.location, _BAL.c.qty, _BAL.c.cost_fen)
                   .where(_BAL.c.batch_id.in_(ids)).with_for_update(of=_BAL))
# A balance read (and locked) above, moved by the net of an append's movements on it (the table's CHECKs: never
# below zero, no cost without stock).
_SHIFT = Prepared(sa.update(_BAL).where(_BAL.c.batch_id == sa.bindparam("b"), _BAL.c.location == sa.bindparam("loc"))
                  .values(qty=_BAL.c.qty + sa.bindparam("d"), cost_fen=_BAL.c.cost_fen + sa.bindparam("c")))


def _putting(insert: Any) -> Prepared:
    """Stock in: the balance made at the batch's first movement into a location, added to at the others, in
    one statement (two writers at once both land: ON CONFLICT). Only for positive changes: PostgreSQL checks
    the proposed row's CHECK before it sees the conflict."""
    row = insert(_BAL).values(batch_id=sa.bindparam("b"), location=sa.bindparam("loc"), store_id=sa.bindparam("sid"),
                              item_id=sa.bindparam("item"), qty=sa.bindparam("d"), cost_fen=sa.bindparam("c"))
    return Prepared(row.on_conflict_do_update(index_elements=[_BAL.c.batch_id, _BAL.c.location],
                                              set_={"qty": _BAL.c.qty + row.excluded.qty,
                                                    "cost_fen": _BAL.c.cost_fen + row.excluded.cost_fen}))


_PUT = {"sqlite": _putting(sqlite_dialect.insert), "postgresql": _putting(postgresql_dialect.insert)}


def _short(batches: Sequence[int]) -> AppError:
    return AppError(409, "STOCK", "库存不足：批次没有可出库的库存", "stock out of a batch that holds none",
                    {"batches": sorted(set(batches))})


def _costed(u: Unit, moves: Sequence[Move]) -> tuple[list[int], dict[tuple[int, str], tuple[int, int]], set[Any]]:
    """Each movement's cost (stock out: its share of what the batch holds at that point of the list), the net
    (qty, cost) per balance, and the balances that exist already (read and locked: those stock leaves)."""
    for m in moves:
        if m.qty == 0:
            raise ValueError("a stock movement moves something")
        if (m.qty > 0) != (m.cost_fen is not None) or (m.cost_fen is not None and m.cost_fen < 0):
            raise ValueError("stock in says what it cost (≥ 0); stock out takes its share of the cost on hand")
        if not movements.sign_agrees(m.kind, m.qty) and m.corrects_id is None:
            raise ValueError(f"a {m.kind} movement does not go that way: {m.qty}")
    taking = sorted({m.batch_id for m in moves if m.qty < 0})
    held: dict[tuple[int, str], list[int]] = {}
    if taking:
        held = {(r.batch_id, r.location): [int(r.qty), int(r.cost_fen)]
                for r in _HELD.rows(u.connection(), taking, {})}
    existing = set(held)
    costs: list[int] = []
    net: dict[tuple[int, str], tuple[int, int]] = {}
    for m in moves:
        key = (m.batch_id, m.location)
        state = held.setdefault(key, [0, 0])
        if m.qty > 0:
            cost = int(m.cost_fen or 0)
        else:
            if state[0] < -m.qty:
                raise _short([m.batch_id for m in moves if m.qty < 0])
            cost = -share(state[1], state[0], -m.qty)
        state[0] += m.qty
        state[1] += cost
        costs.append(cost)
        dq, dc = net.get(key, (0, 0))
        net[key] = (dq + m.qty, dc + cost)
    return costs, net, existing


_PERIOD = table_of(PeriodClose)
_CLOSED_TO = Prepared(sa.select(sa.func.max(_PERIOD.c.last_day)).where(_PERIOD.c.store_id == sa.bindparam("sid")))


def closed_to(u: Reader, store_id: int) -> date | None:
    """The store's last closed day (月结), or None: nothing may be dated on or before it."""
    value = _CLOSED_TO.scalar(u.connection(), {"sid": store_id})
    return date.fromisoformat(value) if isinstance(value, str) else value


def refuse_closed(u: Reader, ctx: Ctx, what: str = "stock movement", day: date | None = None) -> None:
    """ST-02: a record's date (default today, the business date every movement carries) must lie after the last
    closed period — a back-dated document or a clock set back is refused here with words, and by the database's
    trigger (migration 0024) regardless."""
    if problems := dated_in_closed(day or ctx.today, closed_to(u, ctx.store_id), what):
        v = problems[0]
        raise AppError(409, v.rule, v.message_zh, v.message_en, v.details)


def _row(ctx: Ctx, m: Move, cost: int) -> dict[str, Any]:
    return {"store_id": ctx.store_id, "batch_id": m.batch_id, "item_id": m.item_id, "kind": m.kind, "qty": m.qty,
            "location": m.location, "at": ctx.now, "user_id": ctx.actor.user_id, "ref_type": m.ref_type,
            "ref_id": m.ref_id, "corrects_id": m.corrects_id, "note": m.note, "cost_fen": cost,
            "retail_fen": m.retail_fen, "business_date": ctx.today}


def _move_balances(u: Unit, ctx: Ctx, moves: Sequence[Move], net: dict[tuple[int, str], tuple[int, int]],
                   existing: set[Any]) -> None:
    conn = u.connection()
    items = {(m.batch_id, m.location): m.item_id for m in moves}
    shifts: list[dict[str, Any]] = [{"b": b, "loc": loc, "d": d, "c": c} for (b, loc), (d, c) in net.items()
                                    if (b, loc) in existing and (d or c)]
    puts = [{"b": b, "loc": loc, "sid": ctx.store_id, "item": items[(b, loc)], "d": d, "c": c}
            for (b, loc), (d, c) in net.items() if (b, loc) not in existing and d > 0]
    # one by one: each statement's row count tells a balance that is gone apart (it never is: rows stay)
    if shifts and sum(_SHIFT.run(conn, x) for x in shifts) != len(shifts):
        raise _short([int(x["b"]) for x in shifts])
    if puts:
        _PUT[conn.dialect.name].run_many(conn, puts)


def append(u: Unit, ctx: Ctx, moves: Sequence[Move]) -> list[dict[str, Any]]:
    """Append movements to the ledger and move their batches' balances (quantity and cost), in the caller's
    transaction; the rows as written (without their ids), for the caller's audit entry to image (audit.NESTED
    "movements"). Each carries the store's business date (ctx.today) and, for stock out, the cost it took.

    The caller audits the operation they belong to (a sale, a return, a receipt). The balances stock leaves are
    read locked (FOR UPDATE on PostgreSQL; SQLite has one writer) and moved by their net; stock in is added by
    atomic upserts (qty = qty + d), so concurrent writers never lose each other's change; stock out of a batch
    never goes below zero (refused here, and by the database regardless).
    """
    if not moves:
        return []
    u.flush()  # an ORM caller's pending rows (the batch a movement points at) are written first
    refuse_closed(u, ctx)
    costs, net, existing = _costed(u, moves)
    rows = [_row(ctx, m, c) for m, c in zip(moves, costs, strict=True)]
    _ADD_MOVEMENTS.run_many(u.connection(), rows)
    outbox.from_ledger(u, ctx, moves, _MOVEMENT)  # what the centre must hear of, in the same transaction (ST-06)
    _move_balances(u, ctx, moves, net, existing)
    return rows


def append_one(u: Unit, ctx: Ctx, move: Move) -> dict[str, Any]:
    """`append` for one movement whose row the caller needs (to audit it, or to correct it later): the row
    as written, with its id."""
    u.flush()
    refuse_closed(u, ctx)
    costs, net, existing = _costed(u, [move])
    row = _row(ctx, move, costs[0])
    row = {"id": int(_ADD_MOVEMENT.scalar(u.connection(), row))} | row
    outbox.from_ledger(u, ctx, [move], _MOVEMENT)
    _move_balances(u, ctx, [move], net, existing)
    return row


def held_in(u: Unit, batch_id: int, location: str) -> int:
    """What one batch holds in one location now (its balance)."""
    u.flush()
    return int(u.connection().execute(sa.select(_BAL.c.qty).where(_BAL.c.batch_id == batch_id,
                                                                  _BAL.c.location == location)).scalar() or 0)


def relocate(u: Unit, ctx: Ctx, batch_id: int, item_id: int, qty: int, source: str, target: str, kind: str,
             ref_type: str, ref_id: str, note: str = "") -> list[dict[str, Any]]:
    """Move `qty` of a batch between locations within the store (into or out of quarantine, 待验): out of one at
    its share of the cost there, into the other at the same cost — a pair of rows of one kind, net zero."""
    if qty <= 0:
        raise ValueError("relocate moves something")
    out = append(u, ctx, [Move(batch_id, item_id, kind, -qty, ref_type, ref_id, location=source, note=note)])
    cost = -int(out[0]["cost_fen"])
    return out + append(u, ctx, [Move(batch_id, item_id, kind, qty, ref_type, ref_id, location=target, note=note,
                                      cost_fen=cost)])


def split_amount(total: int, parts: Sequence[int]) -> list[int]:
    """`total` fen spread over parts in proportion to their quantities, rounded half up, the last taking the
    remainder (a sale line's amount over the batches it took from)."""
    whole = sum(parts)
    out: list[int] = []
    left_qty, left = whole, total
    for q in parts:
        piece = left if q == left_qty else (2 * left * q + left_qty) // (2 * left_qty)
        out.append(piece)
        left -= piece
        left_qty -= q
    return out


def unit_cost(cost_per_unit: int, split_ratio: int, qty: int) -> int:
    """What `qty` split units cost at a price per whole unit, in fen, rounded half up once (stock in)."""
    ratio = max(int(split_ratio), 1)
    return (2 * cost_per_unit * qty + ratio) // (2 * ratio)


def retail_of(item: Item, qty: int) -> int:
    """Stock's worth at the item's price today (price per unit; qty in split units), rounded half up."""
    ratio = max(int(item.split_ratio), 1)
    return (2 * int(item.price_fen) * qty + ratio) // (2 * ratio)


# --- what counts and care read of the ledger (server.services.stock.counts, care) ----------------------------

def last_movement_id(s: Reader, ctx: Ctx) -> int:
    """The store's latest movement: a count's snapshot (movements after it happened after the snapshot)."""
    s.flush()
    q = sa.select(sa.func.coalesce(sa.func.max(_MOVEMENT.c.id), 0)).where(_MOVEMENT.c.store_id == ctx.store_id)
    return int(s.connection().execute(q).scalar_one())


def book_at(s: Reader, ctx: Ctx, movement_id: int, zone_id: int | None = None,
            batch_ids: Sequence[int] | None = None, location: str = SELLABLE) -> dict[int, tuple[int, int]]:
    """Stock per batch in one location (default: sellable) as the ledger stood at `movement_id` (Σ of its movements
    up to it): {batch id: (item id, qty)}, batches of one zone (None: the whole store) or the ones named, those ever
    moved."""
    q = (sa.select(_MOVEMENT.c.batch_id, _MOVEMENT.c.item_id, sa.func.sum(_MOVEMENT.c.qty))
         .join(_BATCH, _BATCH.c.id == _MOVEMENT.c.batch_id)
         .where(_MOVEMENT.c.store_id == ctx.store_id, _MOVEMENT.c.location == location, _MOVEMENT.c.id <= movement_id)
         .group_by(_MOVEMENT.c.batch_id, _MOVEMENT.c.item_id))
    if zone_id is not None:
        q = q.where(_BATCH.c.zone_id == zone_id)
    if batch_ids is not None:
        q = q.where(_MOVEMENT.c.batch_id.in_(list(batch_ids)))
    s.flush()
    return {int(b): (int(i), int(n)) for b, i, n in s.connection().execute(q)}


def on_hand(s: Reader, batch_ids: Sequence[int], location: str = SELLABLE, lock: bool = False) -> dict[int, tuple[int, int]]:
    """Each batch's stock and cost on hand in one location now: {batch id: (qty, cost_fen)} (absent: none ever)."""
    if not batch_ids:
        return {}
    q = sa.select(_BAL.c.batch_id, _BAL.c.qty, _BAL.c.cost_fen).where(_BAL.c.batch_id.in_(sorted(set(batch_ids))),
                                                                       _BAL.c.location == location)
    s.flush()
    rows = s.connection().execute(q.with_for_update(of=_BAL) if lock else q)
    return {int(b): (int(n), int(c)) for b, n, c in rows}


def unreleased(s: Reader, batch_ids: Sequence[int]) -> dict[int, int]:
    """What of each batch came into quarantine (待验: a held receipt line, a returned box, a count found there) and was
    never released to the shelf by re-inspection (quarantine_out): {batch id: units} for those with any. Stock
    that left quarantine otherwise (back to the supplier, written off, counted short) was not found fit."""
    if not batch_ids:
        return {}
    out_of_q = sa.and_(_MOVEMENT.c.kind == movements.MovementKind.QUARANTINE_OUT.value, _MOVEMENT.c.qty < 0)
    q = (sa.select(_MOVEMENT.c.batch_id,
                   sa.func.sum(sa.case((_MOVEMENT.c.qty > 0, _MOVEMENT.c.qty), (out_of_q, _MOVEMENT.c.qty), else_=0)))
         .where(_MOVEMENT.c.batch_id.in_(sorted(set(batch_ids))), _MOVEMENT.c.location == QUARANTINE)
         .group_by(_MOVEMENT.c.batch_id))
    s.flush()
    return {int(b): int(n) for b, n in s.connection().execute(q) if int(n) > 0}


def stock_by_batch(s: Reader, ctx: Ctx) -> list[Any]:
    """Every batch holding stock in any location: rows of (batch id, item id, location, qty, zone id, expires_on,
    lot_no, batch_no, status) — the near-expiry pull list and the upkeep's batches read this."""
    q = (sa.select(_BAL.c.batch_id, _BAL.c.item_id, _BAL.c.location, _BAL.c.qty, _BATCH.c.zone_id,
                   _BATCH.c.expires_on, _BATCH.c.lot_no, _BATCH.c.batch_no, _BATCH.c.status)
         .join(_BATCH, _BATCH.c.id == _BAL.c.batch_id)
         .where(_BAL.c.store_id == ctx.store_id, _BAL.c.qty > 0)
         .order_by(_BATCH.c.zone_id, _BATCH.c.expires_on, _BATCH.c.id))
    s.flush()
    return list(s.connection().execute(q))


def sold_from(s: Reader, ctx: Ctx, batch_id: int) -> list[Any]:
    """What sales took from a batch and what came back to it: rows of (kind, ref_type, ref_id, qty), oldest first
    (a recall's list of buyers)."""
    q = (sa.select(_MOVEMENT.c.kind, _MOVEMENT.c.ref_type, _MOVEMENT.c.ref_id, _MOVEMENT.c.qty)
         .where(_MOVEMENT.c.store_id == ctx.store_id, _MOVEMENT.c.batch_id == batch_id,
                _MOVEMENT.c.kind.in_([movements.MovementKind.SALE.value, movements.MovementKind.SALE_RETURN.value]))
         .order_by(_MOVEMENT.c.id))
    s.flush()
    return list(s.connection().execute(q))


# --- the period close (月结): the stock a closed period ends with --------------------------------------------

_STOCK_SUMS = (_MOVEMENT.c.batch_id, _MOVEMENT.c.item_id, _MOVEMENT.c.location, sa.func.sum(_MOVEMENT.c.qty),
               sa.func.sum(_MOVEMENT.c.cost_fen), sa.func.sum(_MOVEMENT.c.retail_fen))
_STOCK_KEYS = (_MOVEMENT.c.batch_id, _MOVEMENT.c.item_id, _MOVEMENT.c.location)
_STOCK_THROUGH = Prepared(
    sa.select(*_STOCK_SUMS)
    .where(_MOVEMENT.c.store_id == sa.bindparam("sid"), _MOVEMENT.c.business_date <= sa.bindparam("day"))
    .group_by(*_STOCK_KEYS))
_STOCK_BETWEEN = Prepared(
    sa.select(*_STOCK_SUMS)
    .where(_MOVEMENT.c.store_id == sa.bindparam("sid"), _MOVEMENT.c.business_date > sa.bindparam("after"),
           _MOVEMENT.c.business_date <= sa.bindparam("day"))
    .group_by(*_STOCK_KEYS))
_LAST_MOVEMENT = Prepared(sa.select(sa.func.max(_MOVEMENT.c.id)).where(_MOVEMENT.c.store_id == sa.bindparam("sid")))


def hold_still(u: Unit) -> None:
    """No movement is written by anyone else until the caller commits, and those under way have committed (a
    close's snapshot must see them all). PostgreSQL: SHARE lock (writers wait, readers do not); SQLite has one
    writer already."""
    conn = u.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"LOCK TABLE {_MOVEMENT.name} IN SHARE MODE")


def stock_through(u: Reader, store_id: int, day: date, after: date | None = None
                  ) -> tuple[list[tuple[int, int, str, int, int, int]], int]:
    """Per batch and location, the sums of its movements dated on or before `day` — only those after `after`
    when given (a close adds the month to the last close's snapshot instead of summing the whole history):
    (batch, item, location, qty, cost, retail); and the ledger's last movement id now."""
    conn = u.connection()
    query, params = ((_STOCK_THROUGH, {"sid": store_id, "day": day}) if after is None
                     else (_STOCK_BETWEEN, {"sid": store_id, "day": day, "after": after}))
    rows = [(int(b), int(i), str(loc), int(q or 0), int(c or 0), int(r or 0))
            for b, i, loc, q, c, r in query.rows(conn, params)]
    last = int(_LAST_MOVEMENT.scalar(conn, {"sid": store_id}) or 0)
    return rows, last
