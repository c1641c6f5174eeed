"""Counts (盘点): a count sheet per zone or for the whole store, its book taken at a snapshot; quantities typed or
scanned by batch while the store keeps selling; submitted by the counter and posted by the person in charge who
did not count it (SEC-01, by person), as one document of 盘盈/盘亏 movements at cost (ST-01, ST-02).

The snapshot is the ledger's last movement when the sheet is made: each line's book is the batch's sellable
stock as the ledger stood then (Σ of its movements up to it). What was sold or received after the snapshot is
the book's to account for, not the counter's: the variance is counted − book at the snapshot, and it is posted
against the book as it stands at posting (a sale after the snapshot is neither counted nor lost twice). A count
is of sellable stock (the shelf) and, when the sheet says so, of stock held in quarantine (待验) too: a batch's
quarantine stock is a line of its own, its variance posted against the quarantine location, where it stays —
quarantine stock reaches the shelf only by re-inspection, never by a count (GSP-05: a batch with unreleased
quarantine stock gains nothing on the shelf, server.rules.care.quarantine_gain_refusal). On PostgreSQL a movement
whose transaction commits after the snapshot with an earlier id would be read as before it: counts are made
when the store is quiet enough for that not to matter, and a recount is a new sheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models import Batch, Item
from server.db.models.base import id_of, table_of
from server.db.models.care import CountLine, CountSheet
from server.db.uow import Unit, orm
from server.errors import AppError, not_found, refused
from server.rules import care as rules
from server.rules.movements import MovementKind
from server.services import outbox
from server.services.catalog.items import zone_by_code
from server.services.context import Ctx
from server.services.stock import ledger
from server.services.stock.persons import actor_person, person_of

OPEN, SUBMITTED, POSTED = "open", "submitted", "posted"


@dataclass(frozen=True, slots=True)
class Entry:
    """A counted quantity of a batch (by its id or its batch number as scanned): packs and loose split units; `add`
    adds to what is counted already (a scan of one more box) instead of setting it."""

    batch_id: int | None = None
    batch_no: str | None = None
    location: str = ledger.SELLABLE  # or ledger.QUARANTINE, on a sheet that includes it
    qty: int = 0  # whole packs
    loose: int = 0  # split units beyond the packs
    add: bool = False
    reason: str = ""


def _locations(sheet: CountSheet) -> tuple[str, ...]:
    return (ledger.SELLABLE, ledger.QUARANTINE) if sheet.quarantine else (ledger.SELLABLE,)


def create_sheet(u: Unit, ctx: Ctx, zone_code: str | None, blind: bool = False, note: str = "",
                 quarantine: bool = False) -> CountSheet:
    """A count sheet for a zone (or the whole store) with a line per batch that held sellable stock at the snapshot,
    and, if `quarantine`, a line per batch that held stock in quarantine (待验)."""
    s = orm(u)
    ledger.refuse_closed(u, ctx, "count sheet")  # ST-02: a clock set back into a closed month (月结)
    zone_id = id_of(zone_by_code(s, ctx, zone_code)) if zone_code else None
    snap = ledger.last_movement_id(s, ctx)
    sheet = CountSheet(store_id=ctx.store_id, zone_id=zone_id, blind=blind, quarantine=quarantine, status=OPEN,
                       snapshot_at=ctx.now, snapshot_movement_id=snap, business_date=ctx.today, note=note,
                       created_by=ctx.actor.user_id)
    s.add(sheet)
    s.flush()
    for location in _locations(sheet):
        book = ledger.book_at(s, ctx, snap, zone_id, location=location)
        s.add_all([CountLine(store_id=ctx.store_id, sheet_id=id_of(sheet), batch_id=b, item_id=i, location=location,
                             book_qty=q) for b, (i, q) in sorted(book.items()) if q > 0])
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "count.create", "count_sheet", id_of(sheet), None,
                 audit.snapshot(sheet) | {"lines": [audit.snapshot(ln) for ln in lines_of(s, id_of(sheet))]},
                 note=note)
    return sheet


def get_sheet(s: Session, ctx: Ctx, sheet_id: int, lock: bool = False) -> CountSheet:
    q = select(CountSheet).where(CountSheet.id == sheet_id, CountSheet.store_id == ctx.store_id)
    sheet = s.exec(q.with_for_update() if lock else q).first()
    if sheet is None:
        raise not_found("盘点单", "count sheet", sheet_id=sheet_id)
    return sheet


def lines_of(s: Session, sheet_id: int) -> list[CountLine]:
    return list(s.exec(select(CountLine).where(CountLine.sheet_id == sheet_id).order_by(col(CountLine.id))))


def _batches(s: Session, ctx: Ctx, entries: Sequence[Entry]) -> dict[Any, Batch]:
    ids = [e.batch_id for e in entries if e.batch_id is not None]
    nos = [e.batch_no for e in entries if e.batch_no is not None]
    found: dict[Any, Batch] = {}
    if ids:
        found |= {("id", id_of(b)): b for b in s.exec(select(Batch).where(Batch.store_id == ctx.store_id,
                                                                           col(Batch.id).in_(ids)))}
    if nos:
        found |= {("no", b.batch_no): b for b in s.exec(select(Batch).where(Batch.store_id == ctx.store_id,
                                                                             col(Batch.batch_no).in_(nos)))}
    return found


def enter(u: Unit, ctx: Ctx, sheet_id: int, entries: Sequence[Entry]) -> CountSheet:
    """Counted quantities typed or scanned onto an open sheet, by batch; a batch found that is not on the sheet (in
    the zone, with no book at the snapshot) gets a line with its book at the snapshot. The caller is recorded as
    the line's counter."""
    s = orm(u)
    sheet = get_sheet(s, ctx, sheet_id, lock=True)
    if sheet.status != OPEN:
        raise AppError(409, "ST-02", f"盘点单 {sheet_id} 已提交（{sheet.status}），不能再录入",
                       f"count sheet {sheet_id} is {sheet.status}: no more counts", {"status": sheet.status})
    batches = _batches(s, ctx, entries)
    lines = {(ln.batch_id, ln.location): ln for ln in lines_of(s, sheet_id)}
    before = {b: audit.snapshot(ln) for b, ln in lines.items()}
    items: dict[int, Item] = {}
    for e in entries:
        batch = batches.get(("id", e.batch_id) if e.batch_id is not None else ("no", e.batch_no))
        if batch is None:
            raise not_found(f"批次 {e.batch_id or e.batch_no}", f"batch {e.batch_id or e.batch_no}")
        if sheet.zone_id is not None and batch.zone_id != sheet.zone_id:
            raise AppError(422, "VALIDATION", f"批次 {batch.batch_no} 不在本盘点区域",
                           f"batch {batch.batch_no} is not kept in this sheet's zone", {"batch": batch.batch_no})
        if e.location not in _locations(sheet):
            raise AppError(422, "VALIDATION", f"本盘点单不盘 {e.location} 库存（待验库存须在含待验的盘点单上盘）",
                           f"this sheet does not count {e.location} stock (quarantine: a sheet that includes it)",
                           {"batch": batch.batch_no, "location": e.location})
        item = items.get(batch.item_id) or s.get(Item, batch.item_id)
        assert item is not None
        items[batch.item_id] = item
        counted = e.qty * max(item.split_ratio, 1) + e.loose
        if e.qty < 0 or e.loose < 0 or (e.add and counted == 0):
            raise AppError(422, "VALIDATION", "盘点数量不能为负", "a counted quantity cannot be negative",
                           {"batch": batch.batch_no})
        key = (id_of(batch), e.location)
        line = lines.get(key)
        if line is None:
            book = ledger.book_at(s, ctx, sheet.snapshot_movement_id, batch_ids=[id_of(batch)], location=e.location)
            line = CountLine(store_id=ctx.store_id, sheet_id=sheet_id, batch_id=id_of(batch), item_id=batch.item_id,
                             location=e.location, book_qty=book.get(id_of(batch), (0, 0))[1])
            lines[key] = line
        line.counted_qty = (line.counted_qty or 0) + counted if e.add else counted
        if e.reason.strip():
            line.reason = e.reason.strip()
        line.counted_by, line.counted_at = ctx.actor.user_id, ctx.now
        s.add(line)
    s.flush()
    changed = {b: ln for b, ln in lines.items() if before.get(b) != audit.snapshot(ln)}
    audit.record(u, ctx.store_id, ctx.actor, "count.enter", "count_sheet", sheet_id,
                 {"lines": [before[b] for b in changed if b in before]},
                 {"lines": [audit.snapshot(ln) for ln in changed.values()]})
    return sheet


def submit(u: Unit, ctx: Ctx, sheet_id: int, note: str = "") -> CountSheet:
    """The counter hands the sheet in: every line counted, every variance with its reason (ST-01)."""
    s = orm(u)
    sheet = get_sheet(s, ctx, sheet_id, lock=True)
    if sheet.status != OPEN:
        raise AppError(409, "ST-02", f"盘点单 {sheet_id} 已提交", f"count sheet {sheet_id} is {sheet.status}",
                       {"status": sheet.status})
    lines = lines_of(s, sheet_id)
    nos = _batch_nos(s, [ln.batch_id for ln in lines])
    if problems := rules.variance_refusals([(nos[ln.batch_id], ln.book_qty, ln.counted_qty, ln.reason)
                                            for ln in lines], need_reasons=not sheet.blind):
        raise refused(problems)
    before = audit.snapshot(sheet)
    sheet.status, sheet.submitted_by, sheet.submitted_at = SUBMITTED, ctx.actor.user_id, ctx.now
    s.add(sheet)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "count.submit", "count_sheet", sheet_id, before, audit.snapshot(sheet),
                 note=note)
    return sheet


def _batch_nos(s: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {int(i or 0): n for i, n in s.exec(select(Batch.id, Batch.batch_no).where(col(Batch.id).in_(sorted(set(ids)))))}


def counters(s: Session, sheet: CountSheet, counted_by: Iterable[int | None]) -> set[str]:
    """The persons who counted the sheet: who typed or scanned a line, and who submitted it."""
    users = {uid for uid in counted_by if uid is not None}
    if sheet.submitted_by is not None:
        users.add(sheet.submitted_by)
    return {person_of(s, uid) for uid in users}


_LINE, _BATCH = table_of(CountLine), table_of(Batch)
# A sheet's lines with what the posting needs of their batches, in one read (a whole store's count has thousands).
_POSTING = (sa.select(_LINE.c.id, _LINE.c.batch_id, _LINE.c.item_id, _LINE.c.location, _LINE.c.book_qty,
                      _LINE.c.counted_qty,
                      _LINE.c.reason, _LINE.c.counted_by, _BATCH.c.batch_no, _BATCH.c.cost_fen)
            .join(_BATCH, _BATCH.c.id == _LINE.c.batch_id).where(_LINE.c.sheet_id == sa.bindparam("sheet"))
            .order_by(_LINE.c.id))


def post(u: Unit, ctx: Ctx, sheet_id: int, note: str = "", reasons: Mapping[int, str] | None = None
         ) -> list[dict[str, Any]]:
    """The person in charge, who did not count it, posts a submitted sheet: one document whose movements are its
    variances — 盘盈 (count_gain) and 盘亏 (count_loss), each line's counted − book at the snapshot, against the
    book now. A loss takes its share of the batch's cost on hand (ledger.share); a gain comes in at the batch's
    current unit cost (cost on hand / stock), or at its receipt cost (batch.cost_fen over the split ratio) when
    the batch is at zero (server.rules.care.gain_cost). `reasons` (by batch id) gives or replaces a line's reason
    (a blind count's are the approver's); every variance has one. Each line's variance is posted in its location
    (sellable or quarantine); a batch with quarantine stock never released gains nothing on the shelf (GSP-05).
    The movements written."""
    s = orm(u)
    sheet = get_sheet(s, ctx, sheet_id, lock=True)
    if v := rules.count_posting_refusal(sheet_id, sheet.status):
        raise refused([v], status=409)
    u.flush()
    lines = [r._asdict() for r in u.connection().execute(_POSTING, {"sheet": sheet_id})]
    if v := rules.count_approver_refusal(actor_person(s, ctx), counters(s, sheet, (r["counted_by"] for r in lines))):
        raise refused([v], status=403)
    given: list[CountLine] = []
    for r in lines:
        if (why := (reasons or {}).get(r["batch_id"], "").strip()) and why != r["reason"]:
            row = s.get(CountLine, r["id"])
            assert row is not None
            row.reason = r["reason"] = why
            s.add(row)
            given.append(row)
    if problems := rules.variance_refusals([(r["batch_no"], r["book_qty"], r["counted_qty"], r["reason"])
                                            for r in lines]):
        raise refused(problems)
    moving = [r for r in lines if r["counted_qty"] is not None and r["counted_qty"] != r["book_qty"]]
    gains = [r["batch_id"] for r in moving if r["location"] == ledger.SELLABLE and r["counted_qty"] > r["book_qty"]]
    held = ledger.unreleased(s, gains)
    if problems := [v for r in moving if (v := rules.quarantine_gain_refusal(
            r["batch_no"], r["location"], int(r["counted_qty"]) - int(r["book_qty"]), held.get(r["batch_id"], 0)))]:
        raise refused(problems, status=409)
    now = {loc: ledger.on_hand(s, [r["batch_id"] for r in moving if r["location"] == loc], location=loc, lock=True)
           for loc in _locations(sheet)}
    items = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_({r["item_id"] for r in moving})))
             } if moving else {}
    short: list[Violation] = []
    moves: list[ledger.Move] = []
    for r in moving:
        variance = int(r["counted_qty"]) - int(r["book_qty"])
        qty, cost = now[r["location"]].get(r["batch_id"], (0, 0))
        item, ref = items[r["item_id"]], str(r["id"])
        if variance > 0:
            moves.append(ledger.Move(r["batch_id"], r["item_id"], MovementKind.COUNT_GAIN.value, variance,
                                     "count_line", ref, location=r["location"], note=r["reason"],
                                     cost_fen=rules.gain_cost(cost, qty, variance, r["cost_fen"], item.split_ratio),
                                     retail_fen=ledger.retail_of(item, variance)))
        elif qty < -variance:
            no = r["batch_no"]
            short.append(Violation("STOCK", f"批次 {no} 盘亏 {-variance}，但账面现存仅 {qty}（盘点后已售出）：请重新盘点",
                                   f"batch {no}: a loss of {-variance} but only {qty} is on the book now (sold since "
                                   "the snapshot): count it again", {"batch": no, "variance": variance,
                                                                     "book_now": qty}))
        else:
            moves.append(ledger.Move(r["batch_id"], r["item_id"], MovementKind.COUNT_LOSS.value, variance,
                                     "count_line", ref, location=r["location"], note=r["reason"],
                                     retail_fen=-ledger.retail_of(item, -variance)))
    if short:
        raise refused(short, status=409)
    before = audit.snapshot(sheet)
    sheet.status, sheet.posted_by, sheet.posted_at = POSTED, ctx.actor.user_id, ctx.now
    s.add(sheet)
    written = ledger.append(u, ctx, moves)
    # 3501 盘存: what the count found, batch by batch (its differences went out as 3502 with the movements)
    outbox.inventory(u, ctx, [(str(r["id"]), int(r["batch_id"]), int(r["item_id"]), int(r["counted_qty"]))
                              for r in lines if r["counted_qty"] is not None])
    audit.record(u, ctx.store_id, ctx.actor, "count.post", "count_sheet", sheet_id, before,
                 audit.snapshot(sheet) | {"lines": [audit.snapshot(ln) for ln in given],
                                          "movements": audit.compact(written)}, note=note)
    return written


def view(s: Session, ctx: Ctx, sheet_id: int) -> dict[str, Any]:
    """The sheet as shown: a blind sheet hides the book (and so the variance) until it is submitted."""
    sheet = get_sheet(s, ctx, sheet_id)
    lines = lines_of(s, sheet_id)
    hide = sheet.blind and sheet.status == OPEN
    rows = s.exec(select(Batch, Item).join(Item, col(Item.id) == col(Batch.item_id))
                  .where(col(Batch.id).in_([ln.batch_id for ln in lines]))).all() if lines else []
    info = {id_of(b): (b, i) for b, i in rows}
    out = []
    for ln in lines:
        batch, item = info[ln.batch_id]
        out.append({"id": ln.id, "batch_id": ln.batch_id, "location": ln.location, "batch_no": batch.batch_no,
                    "lot_no": batch.lot_no,
                    "expires_on": batch.expires_on, "item_id": ln.item_id, "item_name": item.name,
                    "spec": item.spec, "book_qty": None if hide else ln.book_qty, "counted_qty": ln.counted_qty,
                    "variance": None if hide or ln.counted_qty is None else ln.counted_qty - ln.book_qty,
                    "reason": ln.reason})
    return sheet.model_dump() | {"lines": out}
