"""Suppliers, batches and the stock ledger (GSP-05/06, ST-02).

Stock is the sum of movements. Each movement also moves its batch's balance (batch_balance) in
the same transaction, atomically, so reads and sales need not sum the whole history; audit verify
recomputes the balances from the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import bindparam, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from catalog.violations import Violation
from server import audit
from server.db.models import Batch, BatchBalance, BatchStatus, Item, MovementKind, StockMovement, Supplier, Zone
from server.errors import AppError, conflict, not_found
from server.services.catalog.items import get_item
from server.services.context import Ctx


def supplier_licence_refusals(supplier: Supplier, on: date) -> list[Violation]:
    """GSP-05: goods come only from a supplier whose licence is valid that day."""
    if not supplier.active:
        return [Violation("GSP-05", f"供应商 {supplier.name} 已停用", f"supplier {supplier.name} is inactive", {})]
    if supplier.licence_expiry < on:
        return [Violation("GSP-05", f"供应商 {supplier.name} 的许可证已于 {supplier.licence_expiry} 过期",
                          f"supplier {supplier.name}'s licence expired on {supplier.licence_expiry}",
                          {"supplier": supplier.name, "licence_expiry": supplier.licence_expiry.isoformat()})]
    return []


def add_supplier(s: Session, ctx: Ctx, name: str, licence_no: str, licence_expiry: date,
                 business_licence_no: str = "", contact: str = "", phone: str = "") -> Supplier:
    if s.exec(select(Supplier).where(Supplier.store_id == ctx.store_id, Supplier.name == name)).first():
        raise conflict("DUPLICATE", f"供应商 {name} 已存在", f"supplier {name} exists")
    sup = Supplier(store_id=ctx.store_id, name=name, licence_no=licence_no, licence_expiry=licence_expiry,
                   business_licence_no=business_licence_no, contact=contact, phone=phone)
    s.add(sup)
    audit.record_row(s, ctx.store_id, ctx.actor, "supplier.create", sup)
    return sup


def list_suppliers(s: Session, ctx: Ctx) -> list[Supplier]:
    return list(s.exec(select(Supplier).where(Supplier.store_id == ctx.store_id).order_by(Supplier.id)))


def _supplier(s: Session, ctx: Ctx, supplier_id: int) -> Supplier:
    sup = s.get(Supplier, supplier_id)
    if sup is None or sup.store_id != ctx.store_id:
        raise not_found("供应商", "supplier", supplier_id=supplier_id)
    return sup


def add_opening_batch(s: Session, ctx: Ctx, item_id: int, supplier_id: int | None, batch_no: str, lot_no: str,
                      manufactured_on: date, expires_on: date, cost_fen: int, qty: int,
                      zone_code: str | None = None) -> Batch:
    """期初: a batch already on the shelf when the store starts using the system, with its stock.

    Goods received from suppliers later go through stock-in (GSP-05 inspection and approval).
    """
    item = get_item(s, ctx, item_id)
    if qty < 0:
        raise AppError(422, "VALIDATION", "期初数量不能为负", "opening quantity cannot be negative", {"qty": qty})
    if expires_on <= manufactured_on:
        raise AppError(422, "VALIDATION", "有效期止须晚于生产日期", "expiry must be after the manufacture date")
    if supplier_id is not None:
        _supplier(s, ctx, supplier_id)
    if s.exec(select(Batch).where(Batch.store_id == ctx.store_id, Batch.batch_no == batch_no)).first():
        raise conflict("DUPLICATE", f"批次流水号 {batch_no} 已存在", f"batch number {batch_no} exists")
    zone_id = None
    if zone_code:
        zone = s.exec(select(Zone).where(Zone.store_id == ctx.store_id, Zone.code == zone_code)).first()
        if zone is None:
            raise not_found(f"区域 {zone_code} ", f"zone {zone_code}")
        zone_id = zone.id
    batch = Batch(store_id=ctx.store_id, item_id=item.id, supplier_id=supplier_id, batch_no=batch_no,  # type: ignore[arg-type]
                  lot_no=lot_no, manufactured_on=manufactured_on, expires_on=expires_on, cost_fen=cost_fen,
                  zone_id=zone_id, received_at=ctx.now)
    s.add(batch)
    audit.record_row(s, ctx.store_id, ctx.actor, "batch.create", batch)
    if qty:
        move(s, ctx, batch, MovementKind.OPENING, qty, "opening", str(batch.id))
    return batch


_BUMP = (update(BatchBalance).where(BatchBalance.batch_id == bindparam("b"), BatchBalance.location == bindparam("loc"))
         .values(qty=BatchBalance.qty + bindparam("d")).execution_options(synchronize_session=False))


def append_movement(s: Session, ctx: Ctx, batch: Batch, kind: str, qty: int, ref_type: str, ref_id: str,
                    location: str = "sellable", note: str = "") -> StockMovement:
    """Append one movement to the ledger and move the batch's balance with it.

    The caller audits the operation it belongs to (a sale, a return). The balance changes by an
    atomic UPDATE (qty = qty + d), so concurrent writers never lose each other's change.
    """
    mv = StockMovement(store_id=ctx.store_id, batch_id=batch.id, item_id=batch.item_id, kind=kind, qty=qty,  # type: ignore[arg-type]
                       at=ctx.now, user_id=ctx.actor.user_id, ref_type=ref_type, ref_id=ref_id, location=location,
                       note=note)
    s.add(mv)
    if s.execute(_BUMP, {"b": batch.id, "loc": location, "d": qty}).rowcount == 0:  # type: ignore[attr-defined]
        try:
            with s.begin_nested():
                s.add(BatchBalance(batch_id=batch.id, location=location, store_id=ctx.store_id,  # type: ignore[arg-type]
                                   item_id=batch.item_id, qty=qty))
        except IntegrityError:  # another writer created this balance first: add to theirs
            s.execute(_BUMP, {"b": batch.id, "loc": location, "d": qty})
    return mv


def move(s: Session, ctx: Ctx, batch: Batch, kind: MovementKind, qty: int, ref_type: str, ref_id: str,
         note: str = "") -> StockMovement:
    """Append one movement on its own and audit it (the ledger row itself is never changed)."""
    mv = append_movement(s, ctx, batch, kind.value, qty, ref_type, ref_id, note=note)
    s.flush()
    audit.record(s, ctx.store_id, ctx.actor, f"stock.{kind.value}", "stock_movement", mv.id, None,
                 audit.snapshot(mv))
    return mv


def set_batch_stop(s: Session, ctx: Ctx, batch_id: int, stopped: bool, reason: str) -> Batch:
    """GSP-06: a batch with a quality doubt is stopped from sale until cleared; both need a reason."""
    batch = s.get(Batch, batch_id)
    if batch is None or batch.store_id != ctx.store_id:
        raise not_found("批次", "batch", batch_id=batch_id)
    if not reason.strip():
        raise AppError(422, "GSP-06", "停售或解除停售须填写原因", "stopping or releasing a batch needs a reason")
    before = audit.snapshot(batch)
    batch.status = BatchStatus.STOPPED.value if stopped else BatchStatus.ACTIVE.value
    batch.stop_reason = reason if stopped else ""
    s.add(batch)
    audit.record_row(s, ctx.store_id, ctx.actor, "batch.stop" if stopped else "batch.release", batch, before,
                     note=reason)
    return batch


def batch_stock(s: Session, ctx: Ctx, item_id: int, location: str = "sellable") -> list[tuple[Batch, int]]:
    """Each batch of an item with its stock in one location, earliest expiry first (empty ones too)."""
    rows = s.exec(
        select(Batch, func.coalesce(BatchBalance.qty, 0))
        .join(BatchBalance, (BatchBalance.batch_id == Batch.id) & (BatchBalance.location == location),  # type: ignore[arg-type]
              isouter=True)
        .where(Batch.store_id == ctx.store_id, Batch.item_id == item_id)
        .order_by(Batch.expires_on, Batch.id)
    ).all()
    return [(b, int(q)) for b, q in rows]


def _stocked_batches(s: Session, ctx: Ctx, item_id: int, lock: bool) -> list[tuple[Batch, int]]:
    """Batches of an item holding sellable stock, FEFO order; locked for the sale on PostgreSQL."""
    q = (select(Batch, BatchBalance.qty).join(BatchBalance, BatchBalance.batch_id == Batch.id)  # type: ignore[arg-type]
         .where(BatchBalance.store_id == ctx.store_id, BatchBalance.item_id == item_id,
                BatchBalance.location == "sellable", BatchBalance.qty > 0)
         .order_by(Batch.expires_on, Batch.id))
    if lock:  # serialise sellers of the same batches (SQLite's writer lock already does)
        q = q.with_for_update(of=BatchBalance)  # type: ignore[arg-type]
    return [(b, int(qty)) for b, qty in s.exec(q).all()]


def item_stock(s: Session, ctx: Ctx, item_ids: list[int]) -> dict[int, int]:
    """Sellable stock per item (quarantined returns excluded), in split units."""
    if not item_ids:
        return {}
    rows = s.exec(select(BatchBalance.item_id, func.sum(BatchBalance.qty))
                  .where(BatchBalance.store_id == ctx.store_id, BatchBalance.item_id.in_(item_ids),  # type: ignore[attr-defined]
                         BatchBalance.location == "sellable")
                  .group_by(BatchBalance.item_id)).all()
    found = {int(i): int(q) for i, q in rows}
    return {i: found.get(i, 0) for i in item_ids}


def expiry_refusals(batch: Batch, item: Item, on: date) -> list[Violation]:
    """GSP-06: an expired or stopped batch is never sold."""
    out: list[Violation] = []
    if batch.expires_on < on:
        out.append(Violation("GSP-06", f"{item.name} 批号 {batch.lot_no} 已于 {batch.expires_on} 过期，不得销售",
                             f"batch {batch.batch_no} of {item.code} expired on {batch.expires_on}",
                             {"batch": batch.batch_no, "expires_on": batch.expires_on.isoformat()}))
    if batch.status == BatchStatus.STOPPED.value:
        out.append(Violation("GSP-06", f"{item.name} 批号 {batch.lot_no} 因质量问题停售：{batch.stop_reason}",
                             f"batch {batch.batch_no} of {item.code} is stopped: {batch.stop_reason}",
                             {"batch": batch.batch_no, "reason": batch.stop_reason}))
    return out




@dataclass
class Availability:
    """What of an item can be sold now: good batches (FEFO order) and the stock that cannot, with why."""

    good: int = 0
    good_batches: list[tuple[Batch, int]] = field(default_factory=list)
    blocked: list[tuple[Batch, int, list[Violation]]] = field(default_factory=list)


def sellable_stock(s: Session, ctx: Ctx, item: Item, lock: bool = False) -> Availability:
    out = Availability()
    for batch, qty in _stocked_batches(s, ctx, item.id, lock):  # type: ignore[arg-type]
        if problems := expiry_refusals(batch, item, ctx.today):
            out.blocked.append((batch, qty, problems))
        else:
            out.good += qty
            out.good_batches.append((batch, qty))
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
