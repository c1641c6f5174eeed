"""The sale: open, scan, change, suspend, resume, void, complete — one use case each, in one place.

Completion is the moment a sale becomes final: in one transaction the sale number is taken, stock
leaves by batch (FEFO), tenders are recorded and the audit entry written. A retried completion with
the same sale id returns the first result and changes nothing (the till may retry forever).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from server import audit
from server.db.models import (
    DayCounter,
    Item,
    Sale,
    SaleLine,
    SaleStatus,
    Shift,
    ShiftStatus,
    StockMovement,
    Tender,
)
from server.errors import AppError, conflict, not_found, refused
from server.rules.tenders import TenderOffer, change_fen, tender_refusals
from server.services import stock
from server.services.catalog import find_by_barcode, get_item
from server.services.context import Ctx
from server.services.shifts import open_shift_for
from server.services.store import usable_till

MAX_LINE_QTY = 10_000


# --- reading ----------------------------------------------------------------------------------------

def get_sale(s: Session, ctx: Ctx, sale_id: str, lock: bool = False) -> Sale:
    q = select(Sale).where(Sale.id == sale_id, Sale.store_id == ctx.store_id)
    sale = s.exec(q.with_for_update() if lock else q).first()
    if sale is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    return sale


def sale_by_number(s: Session, ctx: Ctx, sale_no: str) -> Sale:
    sale = s.exec(select(Sale).where(Sale.store_id == ctx.store_id, Sale.sale_no == sale_no)).first()
    if sale is None:
        raise not_found(f"小票号 {sale_no} 对应的销售单", f"sale number {sale_no}", sale_no=sale_no)
    return sale


def lines_of(s: Session, sale_id: str) -> list[SaleLine]:
    return list(s.exec(select(SaleLine).where(SaleLine.sale_id == sale_id).order_by(SaleLine.line_no)))


def tenders_of(s: Session, sale_id: str) -> list[Tender]:
    return list(s.exec(select(Tender).where(Tender.sale_id == sale_id).order_by(Tender.id)))


def _basket(s: Session, ctx: Ctx, sale_id: str, till_id: int) -> Sale:
    """A sale that can still change: open, on this till, in a shift still open.

    The scan path checks only this much (two reads); the till's registration was checked when the
    session logged in and is checked again at completion.
    """
    sale = get_sale(s, ctx, sale_id, lock=True)
    if sale.status != SaleStatus.OPEN.value:
        raise conflict("SALE-STATE", f"销售单已{_STATE_ZH[sale.status]}，不能修改", f"the sale is {sale.status}",
                       status=sale.status)
    if sale.till_id != till_id:
        raise conflict("SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till",
                       till_id=sale.till_id)
    shift = s.get(Shift, sale.shift_id)
    if shift is None or shift.status != ShiftStatus.OPEN.value:
        raise conflict("SHIFT-CLOSED", "该销售单所属班次已结班，请挂单后在新班次取单",
                       "the sale's shift is closed; suspend it and resume it in an open shift")
    return sale


_STATE_ZH = {"open": "打开", "suspended": "挂单", "completed": "完成", "voided": "作废"}


def _line_image(line: SaleLine) -> dict[str, Any]:
    return audit.snapshot(line)


# --- the basket -------------------------------------------------------------------------------------

def open_sale(s: Session, ctx: Ctx, sale_id: str, till_code: str) -> Sale:
    """A sale opened with the till's UUID. Opening the same id again on the same till is a no-op."""
    till, shift = open_shift_for(s, ctx, till_code)
    existing = s.get(Sale, sale_id)
    if existing is not None:
        if existing.store_id == ctx.store_id and existing.till_id == till.id:
            return existing
        raise conflict("SALE-ID", "销售单号已被使用", "this sale id is already used", sale_id=sale_id)
    sale = Sale(id=sale_id, store_id=ctx.store_id, till_id=till.id, shift_id=shift.id,  # type: ignore[arg-type]
                opened_by=ctx.actor.user_id, opened_at=ctx.now)  # type: ignore[arg-type]
    s.add(sale)
    s.flush()
    audit.record(s, ctx.store_id, ctx.actor, "sale.open", "sale", sale.id, None, audit.snapshot(sale))
    return sale


def _unit_price(item: Item, split: bool) -> int:
    if split:
        if not item.split_unit or item.split_price_fen is None:
            raise AppError(422, "SALE-SPLIT", f"{item.name} 不允许拆零销售", f"{item.code} cannot be sold split",
                           {"item": item.code})
        return item.split_price_fen
    return item.price_fen


def _base_qty(item: Item, split: bool, qty: int) -> int:
    """Stock is kept in split units: a whole box of a split-pack item is split_ratio of them."""
    return qty if split else qty * item.split_ratio


def _check_available(s: Session, ctx: Ctx, item: Item, need_base: int) -> None:
    avail = stock.sellable_stock(s, ctx, item)
    if need_base > avail.good:
        raise stock.shortage(item, need_base, avail)


def add_line(s: Session, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
             barcode: str | None = None, item_id: int | None = None) -> SaleLine:
    sale = _basket(s, ctx, sale_id, till_id)
    if not 0 < qty <= MAX_LINE_QTY:
        raise AppError(422, "SALE-QTY", f"数量须在 1 到 {MAX_LINE_QTY} 之间", f"quantity must be 1..{MAX_LINE_QTY}",
                       {"qty": qty})
    if barcode is not None:
        item = find_by_barcode(s, ctx, barcode)
        if item is None:
            raise not_found(f"条码 {barcode} 对应的商品", f"item with barcode {barcode}", barcode=barcode)
    elif item_id is not None:
        item = get_item(s, ctx, item_id)
    else:
        raise AppError(422, "VALIDATION", "请扫描条码或选择商品", "give a barcode or an item id")
    if not item.active:
        raise AppError(422, "SALE-ITEM", f"{item.name} 已停售", f"item {item.code} is inactive", {"item": item.code})
    price = _unit_price(item, split)
    lines = lines_of(s, sale.id)
    line = next((ln for ln in lines if ln.item_id == item.id and ln.split == split), None)
    new_qty = qty + (line.qty if line else 0)
    same_item = sum(_base_qty(item, ln.split, ln.qty) for ln in lines if ln.item_id == item.id and ln is not line)
    _check_available(s, ctx, item, same_item + _base_qty(item, split, new_qty))
    before = _line_image(line) if line else None
    if line is None:
        line = SaleLine(store_id=ctx.store_id, sale_id=sale.id, line_no=(lines[-1].line_no + 1) if lines else 1,
                        item_id=item.id, split=split, qty=new_qty, unit_price_fen=price, amount_fen=new_qty * price,  # type: ignore[arg-type]
                        added_at=ctx.now)
    else:
        line.qty, line.amount_fen = new_qty, new_qty * line.unit_price_fen
    s.add(line)
    sale.total_fen += qty * (line.unit_price_fen)
    s.add(sale)
    s.flush()
    audit.record(s, ctx.store_id, ctx.actor, "sale.line_add", "sale_line", line.id, before, _line_image(line))
    return line


def set_line_qty(s: Session, ctx: Ctx, sale_id: str, till_id: int, line_id: int, qty: int) -> SaleLine:
    sale = _basket(s, ctx, sale_id, till_id)
    if not 0 < qty <= MAX_LINE_QTY:
        raise AppError(422, "SALE-QTY", f"数量须在 1 到 {MAX_LINE_QTY} 之间", f"quantity must be 1..{MAX_LINE_QTY}",
                       {"qty": qty})
    lines = lines_of(s, sale.id)
    line = next((ln for ln in lines if ln.id == line_id), None)
    if line is None:
        raise not_found("销售行", "sale line", line_id=line_id)
    item = get_item(s, ctx, line.item_id)
    others = sum(_base_qty(item, ln.split, ln.qty) for ln in lines if ln.item_id == item.id and ln is not line)
    if qty > line.qty:
        _check_available(s, ctx, item, others + _base_qty(item, line.split, qty))
    before = _line_image(line)
    sale.total_fen += (qty - line.qty) * line.unit_price_fen
    line.qty, line.amount_fen = qty, qty * line.unit_price_fen
    s.add(line)
    s.add(sale)
    audit.record(s, ctx.store_id, ctx.actor, "sale.line_qty", "sale_line", line.id, before, _line_image(line))
    return line


def remove_line(s: Session, ctx: Ctx, sale_id: str, till_id: int, line_id: int) -> Sale:
    sale = _basket(s, ctx, sale_id, till_id)
    line = s.get(SaleLine, line_id)
    if line is None or line.sale_id != sale.id:
        raise not_found("销售行", "sale line", line_id=line_id)
    before = _line_image(line)
    sale.total_fen -= line.amount_fen
    s.delete(line)
    s.add(sale)
    # A removed line is the classic way to pocket cash: the log keeps it, whoever removed it.
    audit.record(s, ctx.store_id, ctx.actor, "sale.line_remove", "sale_line", line_id, before, None)
    return sale


def suspend(s: Session, ctx: Ctx, sale_id: str, till_id: int) -> Sale:
    sale = _basket(s, ctx, sale_id, till_id)
    if not lines_of(s, sale.id):
        raise AppError(422, "SALE-EMPTY", "空单不能挂单", "an empty sale cannot be suspended")
    before = audit.snapshot(sale)
    sale.status, sale.suspended_at = SaleStatus.SUSPENDED.value, ctx.now
    s.add(sale)
    audit.record(s, ctx.store_id, ctx.actor, "sale.suspend", "sale", sale.id, before, audit.snapshot(sale))
    return sale


def resume(s: Session, ctx: Ctx, sale_id: str, till_code: str) -> Sale:
    """挂单 resumed on any till of the store; it moves to that till's current shift. One till wins."""
    till, shift = open_shift_for(s, ctx, till_code)
    sale = get_sale(s, ctx, sale_id, lock=True)
    if sale.status != SaleStatus.SUSPENDED.value:
        raise conflict("SALE-STATE", f"销售单已{_STATE_ZH[sale.status]}，不能取单", f"the sale is {sale.status}, not suspended",
                       status=sale.status, till_id=sale.till_id)
    before = audit.snapshot(sale)
    sale.status, sale.till_id, sale.shift_id, sale.suspended_at = SaleStatus.OPEN.value, till.id, shift.id, None  # type: ignore[assignment]
    s.add(sale)
    audit.record(s, ctx.store_id, ctx.actor, "sale.resume", "sale", sale.id, before, audit.snapshot(sale))
    return sale


def suspended_sales(s: Session, ctx: Ctx) -> list[Sale]:
    return list(s.exec(select(Sale).where(Sale.store_id == ctx.store_id, Sale.status == SaleStatus.SUSPENDED.value)
                       .order_by(Sale.suspended_at)))


def void(s: Session, ctx: Ctx, sale_id: str, reason: str) -> Sale:
    """Void a sale not yet completed (open or suspended), with a reason; the voiding user is recorded."""
    sale = get_sale(s, ctx, sale_id, lock=True)
    if sale.status == SaleStatus.VOIDED.value:
        return sale
    if sale.status == SaleStatus.COMPLETED.value:
        raise conflict("SALE-STATE", "已完成的销售不能作废，请办理退货", "a completed sale cannot be voided; make a return")
    if not reason.strip():
        raise AppError(422, "SALE-VOID", "作废须填写原因", "a void needs a reason")
    before = audit.snapshot(sale)
    sale.status, sale.voided_by, sale.voided_at, sale.void_reason = (SaleStatus.VOIDED.value, ctx.actor.user_id,
                                                                     ctx.now, reason)
    s.add(sale)
    audit.record(s, ctx.store_id, ctx.actor, "sale.void", "sale", sale.id, before,
                 audit.snapshot(sale) | {"lines": [_line_image(ln) for ln in lines_of(s, sale.id)]}, note=reason)
    return sale


# --- completion -------------------------------------------------------------------------------------

@dataclass
class Completion:
    sale: Sale
    lines: list[SaleLine]
    tenders: list[Tender]
    replayed: bool = False
    allocations: list[dict[str, int]] = field(default_factory=list)


def _next_number(s: Session, ctx: Ctx) -> tuple[Any, int]:
    """Gap-free per store and business day: the counter row is locked until the sale commits."""
    day = ctx.today
    counter = s.exec(select(DayCounter).where(DayCounter.store_id == ctx.store_id, DayCounter.business_date == day)
                     .with_for_update()).first()
    if counter is None:
        try:
            with s.begin_nested():
                s.add(DayCounter(store_id=ctx.store_id, business_date=day, last_no=0))
        except Exception:  # another till created today's counter first: use theirs
            pass
        counter = s.exec(select(DayCounter).where(DayCounter.store_id == ctx.store_id,
                                                  DayCounter.business_date == day).with_for_update()).one()
    counter.last_no += 1
    s.add(counter)
    return day, counter.last_no


def complete(s: Session, ctx: Ctx, sale_id: str, till_code: str, offers: list[TenderOffer]) -> Completion:
    sale = get_sale(s, ctx, sale_id, lock=True)
    if sale.status == SaleStatus.COMPLETED.value:
        # A retry from the till that completed it gets the first result; another till is told it lost.
        if usable_till(s, ctx, till_code).id != sale.till_id:
            raise conflict("SALE-TAKEN", f"该销售单已在其他收款机完成（小票号 {sale.sale_no}）",
                           f"the sale was completed on another till ({sale.sale_no})", sale_no=sale.sale_no)
        return Completion(sale, lines_of(s, sale.id), tenders_of(s, sale.id), replayed=True)
    till, shift = open_shift_for(s, ctx, till_code)
    if sale.status != SaleStatus.OPEN.value:
        raise conflict("SALE-STATE", f"销售单已{_STATE_ZH[sale.status]}，不能收款", f"the sale is {sale.status}",
                       status=sale.status)
    if sale.till_id != till.id:
        raise conflict("SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till")
    if sale.shift_id != shift.id:
        raise conflict("SHIFT-CLOSED", "该销售单所属班次已结班，请取单后在本班次收款",
                       "the sale's shift is closed; resume it in the current shift")
    lines = lines_of(s, sale.id)
    if not lines:
        raise AppError(422, "SALE-EMPTY", "空单不能收款", "an empty sale cannot be completed")
    total = sum(ln.amount_fen for ln in lines)
    if problems := tender_refusals(total, offers):
        raise refused(problems)
    before = audit.snapshot(sale)
    allocations = _take_stock(s, ctx, sale, lines)
    day, no = _next_number(s, ctx)
    sale.business_date, sale.day_no, sale.sale_no = day, no, f"{day:%Y%m%d}-{no:04d}"
    sale.status, sale.completed_by, sale.completed_at = SaleStatus.COMPLETED.value, ctx.actor.user_id, ctx.now
    sale.total_fen, sale.change_fen = total, change_fen(offers)
    s.add(sale)
    tenders = [Tender(store_id=ctx.store_id, sale_id=sale.id, kind=o.kind, amount_fen=o.amount_fen,
                      tendered_fen=o.tendered_fen, reference=o.reference) for o in offers]
    s.add_all(tenders)
    s.flush()
    audit.record(s, ctx.store_id, ctx.actor, "sale.complete", "sale", sale.id, before, audit.snapshot(sale) | {
        "lines": [_line_image(ln) for ln in lines], "tenders": [audit.snapshot(t) for t in tenders],
        "allocations": allocations})
    return Completion(sale, lines, tenders, allocations=allocations)


def _take_stock(s: Session, ctx: Ctx, sale: Sale, lines: list[SaleLine]) -> list[dict[str, int]]:
    """Stock leaves by batch, earliest expiry first; expired or stopped batches never (GSP-06)."""
    out: list[dict[str, int]] = []
    by_item: dict[int, list[SaleLine]] = {}
    for ln in lines:
        by_item.setdefault(ln.item_id, []).append(ln)
    # One query for all the items (get_item then finds them in the session), and the movements go
    # to the database in one batched INSERT at the next flush rather than one by one.
    s.exec(select(Item).where(Item.store_id == ctx.store_id, Item.id.in_(list(by_item)))).all()  # type: ignore[attr-defined]
    with s.no_autoflush:
        for item_id in sorted(by_item):  # a fixed lock order: two tills never deadlock on two items
            out.extend(_take_item(s, ctx, get_item(s, ctx, item_id), by_item[item_id]))
    return out


def _take_item(s: Session, ctx: Ctx, item: Item, lines: list[SaleLine]) -> list[dict[str, int]]:
    """One item's lines, from its sellable batches in FEFO order (locked until the sale commits)."""
    out: list[dict[str, int]] = []
    need = sum(_base_qty(item, ln.split, ln.qty) for ln in lines)
    avail = stock.sellable_stock(s, ctx, item, lock=True)
    if need > avail.good:
        raise stock.shortage(item, need, avail)
    batches = list(avail.good_batches)
    for ln in lines:
        remaining = _base_qty(item, ln.split, ln.qty)
        while remaining:
            batch, qty = batches[0]
            take = min(qty, remaining)
            stock.append_movement(s, ctx, batch, "sale", -take, "sale_line", str(ln.id))
            out.append({"line_id": ln.id, "batch_id": batch.id, "qty": take})  # type: ignore[dict-item]
            remaining -= take
            batches[0] = (batch, qty - take)
            if batches[0][1] == 0:
                batches.pop(0)
    return out


def stock_moved_for(s: Session, line_ids: list[int]) -> dict[int, list[StockMovement]]:
    rows = s.exec(select(StockMovement).where(StockMovement.ref_type == "sale_line",
                                              StockMovement.ref_id.in_([str(i) for i in line_ids]))  # type: ignore[attr-defined]
                  .order_by(StockMovement.id)).all()
    out: dict[int, list[StockMovement]] = {}
    for mv in rows:
        out.setdefault(int(mv.ref_id), []).append(mv)
    return out
