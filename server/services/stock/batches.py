"""Batches (GSP-05/06): a store's opening batches (its first inventory, until that is closed), a batch stopped for
a quality doubt. Suppliers are in suppliers.py, receiving in receiving.py; stock moves only through the ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from server import audit
from server.db.models import Batch, BatchStatus, MovementKind, Supplier, Zone
from server.db.models.base import id_of
from server.db.models.care import Recall
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules import care as care_rules
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.stock import ledger, receiving, suppliers


def _supplier(s: Session, ctx: Ctx, supplier_id: int) -> Supplier:
    return suppliers.get_supplier(s, ctx, supplier_id)


def add_opening_batch(u: Unit, ctx: Ctx, item_id: int, supplier_id: int | None, batch_no: str, lot_no: str,
                      manufactured_on: date, expires_on: date, cost_fen: int, qty: int,
                      zone_code: str | None = None) -> Batch:
    """期初: a batch already on the shelf when the store starts using the system, with its stock.

    Goods received from suppliers later go through stock-in (GSP-05 inspection and approval).
    """
    s = orm(u)
    if v := receiving.opening_refusal(s, ctx):  # only until the first inventory or the first delivery is approved
        raise refused([v], status=409)
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
    batch = Batch(store_id=ctx.store_id, item_id=id_of(item), supplier_id=supplier_id, batch_no=batch_no,
                  lot_no=lot_no, manufactured_on=manufactured_on, expires_on=expires_on, cost_fen=cost_fen,
                  zone_id=zone_id, received_at=ctx.now)
    s.add(batch)
    audit.record_row(u, ctx.store_id, ctx.actor, "batch.create", batch)
    if qty:
        move(u, ctx, batch, MovementKind.OPENING, qty, "opening", str(batch.id),
             cost_fen=ledger.unit_cost(cost_fen, item.split_ratio, qty), retail_fen=ledger.retail_of(item, qty))
    return batch


def move(u: Unit, ctx: Ctx, batch: Batch, kind: MovementKind, qty: int, ref_type: str, ref_id: str,
         note: str = "", cost_fen: int | None = None, retail_fen: int = 0) -> dict[str, Any]:
    """Append one movement of a batch on its own, through the ledger, and audit it; the row written. Stock in
    says what it cost; stock out takes its share of the batch's cost on hand (ledger.share)."""
    assert batch.id is not None, "the batch is written before its stock moves"
    row = ledger.append_one(u, ctx, ledger.Move(batch.id, batch.item_id, kind.value, qty, ref_type, ref_id, note=note,
                                                cost_fen=cost_fen, retail_fen=retail_fen))
    audit.record(u, ctx.store_id, ctx.actor, f"stock.{kind.value}", "stock_movement", row["id"], None,
                 audit.row_image(row))
    return row


def recalls_of(s: Session, batch_id: int) -> list[str]:
    """A batch's recalls, each by its notice number (or its id when none was given): a recalled batch stays stopped."""
    return [r.notice_no or f"#{r.id}" for r in s.exec(select(Recall).where(Recall.batch_id == batch_id)
                                                      .order_by(col(Recall.id)))]


def set_batch_stop(u: Unit, ctx: Ctx, batch_id: int, stopped: bool, reason: str) -> Batch:
    """GSP-06: a batch with a quality doubt is stopped from sale until cleared; both need a reason. Every lifting of a
    stop comes here (the route, the CLI, an upkeep doubt cleared), so a recalled batch's stop is refused here once."""
    s = orm(u)
    batch = s.get(Batch, batch_id)
    if batch is None or batch.store_id != ctx.store_id:
        raise not_found("批次", "batch", batch_id=batch_id)
    if not reason.strip():
        raise AppError(422, "GSP-06", "停售或解除停售须填写原因", "stopping or releasing a batch needs a reason")
    if not stopped and (v := care_rules.recall_release_refusal(batch.batch_no, recalls_of(s, batch_id))):
        raise refused([v], status=409)
    before = audit.snapshot(batch)
    batch.status = BatchStatus.STOPPED.value if stopped else BatchStatus.ACTIVE.value
    batch.stop_reason = reason if stopped else ""
    s.add(batch)
    audit.record_row(u, ctx.store_id, ctx.actor, "batch.stop" if stopped else "batch.release", batch, before,
                     note=reason)
    return batch
