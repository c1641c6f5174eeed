"""The sale: open, scan, change, suspend, resume, void, complete — one use case each, in one place.

Completion is the moment a sale becomes final: in one transaction the sale number is taken, stock
leaves by batch (FEFO), tenders are recorded and the audit entry written. A retried completion with
the same sale id returns the first result and changes nothing (the till may retry forever).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from catalog.classes import GspClass, Route, Storage, ZonePurpose
from catalog.gsp import ItemSpec, ZoneSpec, check_placement
from catalog.violations import Violation
from server import audit
from server.db.models import (
    Barcode,
    Batch,
    BatchBalance,
    BatchStatus,
    DayCounter,
    Item,
    MovementKind,
    Sale,
    SaleLine,
    SaleStatus,
    Shift,
    ShiftStatus,
    StockMovement,
    Store,
    Tender,
    TenderKind,
    Till,
    Zone,
)
from server.db.prepared import Prepared
from server.db.session import Unit, loaded_session, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules.agreement import till_refusals
from server.rules.tenders import TenderOffer, change_fen, offer_refusals, tender_refusals
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.rx import prescriptions
from server.services.sale import trace_codes
from server.services.stock import batches as stock
from server.services.store.profile import usable_till
from server.services.store.shifts import open_shift_for

MAX_LINE_QTY = 10_000


# --- reading ----------------------------------------------------------------------------------------

_SALE_BY_ID = select(Sale).where(Sale.id == sa.bindparam("sale"), Sale.store_id == sa.bindparam("sid"))
_SALE_BY_ID_LOCKED = _SALE_BY_ID.with_for_update()


def get_sale(s: Session, ctx: Ctx, sale_id: str, lock: bool = False) -> Sale:
    # Built once: on the completion's path, building and keying the statement cost as much as running it.
    sale = s.exec(_SALE_BY_ID_LOCKED if lock else _SALE_BY_ID, params={"sale": sale_id, "sid": ctx.store_id}).first()
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


def line_views(s: Session, sale_id: str) -> list[dict[str, Any]]:
    """The sale's lines with what the till shows of each item, in one read."""
    s.flush()
    return [r._asdict() for r in _LINE_VIEWS.rows(s.connection(), {"sale": sale_id})]


def tenders_of(s: Session, sale_id: str) -> list[Tender]:
    return list(s.exec(select(Tender).where(Tender.sale_id == sale_id).order_by(Tender.id)))


def _basket(s: Session, ctx: Ctx, sale_id: str, till_id: int) -> Sale:
    """A sale that can still change: open, on this till, in a shift still open.

    The scan path checks only this much (two reads); the till's registration was checked when the
    session logged in and is checked again at completion.
    """
    sale = get_sale(s, ctx, sale_id, lock=True)
    shift = s.get(Shift, sale.shift_id)
    if refusal := _basket_refusal(sale.status, sale.till_id, shift.status if shift else None, till_id):
        raise refusal
    return sale


def _basket_refusal(status: str, sale_till_id: int, shift_status: str | None, till_id: int) -> AppError | None:
    if status != SaleStatus.OPEN.value:
        return conflict("SALE-STATE", f"销售单已{_STATE_ZH[status]}，不能修改", f"the sale is {status}", status=status)
    if sale_till_id != till_id:
        return conflict("SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till",
                        till_id=sale_till_id)
    if shift_status != ShiftStatus.OPEN.value:
        return conflict("SHIFT-CLOSED", "该销售单所属班次已结班，请挂单后在新班次取单",
                        "the sale's shift is closed; suspend it and resume it in an open shift")
    return None


_STATE_ZH = {"open": "打开", "suspended": "挂单", "completed": "完成", "voided": "作废", "settling": "在医保结算中"}


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


def _check_available(s: Unit, ctx: Ctx, item: Any, need_base: int, good: int | None = None) -> None:
    """`good`: the item's sellable stock when the caller read it with the item (_GOOD_STOCK_COLUMN)."""
    # The common case answered by one aggregate; the refusal, which names batches and reasons, by the full read.
    if good is None:
        good = _GOOD_STOCK.scalar(s.connection(), {"sid": ctx.store_id, "item": item.id, "today": ctx.today})
    if need_base <= good:
        return
    full = get_item(orm(s), ctx, item.id)
    avail = stock.sellable_stock(orm(s), ctx, full)
    if need_base > avail.good:
        raise stock.shortage(full, need_base, avail)


# The scan path runs on every keystroke-burst at every till: its statements are built once and run
# prepared (server.db.prepared), without the ORM's unit of work (the route's session holds nothing else).
_SALE, _LINE, _SHIFT = Sale.__table__, SaleLine.__table__, Shift.__table__  # type: ignore[attr-defined]
_ITEM, _BARCODE = Item.__table__, Barcode.__table__  # type: ignore[attr-defined]
_BAL, _BATCH = BatchBalance.__table__, Batch.__table__  # type: ignore[attr-defined]
_BASKET = Prepared(sa.select(_SALE, _SHIFT.c.status.label("shift_status"))
                   .join(_SHIFT, _SHIFT.c.id == _SALE.c.shift_id)
                   .where(_SALE.c.id == sa.bindparam("sale"), _SALE.c.store_id == sa.bindparam("sid"))
                   .with_for_update(of=_SALE))
_ITEM_COLUMNS = [_ITEM.c[k] for k in ("id", "code", "name", "unit", "active", "price_fen", "split_unit",
                                      "split_ratio", "split_price_fen", "gsp_class", "traced", "no_code_stock")]
# What the till shows of an item on a basket line, besides _ITEM_COLUMNS.
_SHOWN_COLUMNS = [_ITEM.c.spec, _ITEM.c.insurance_category]
_ZONE = Zone.__table__  # type: ignore[attr-defined]
# What the till's GSP check needs: the item's class, route, storage, and the zone it stands in.
_PLACEMENT_COLUMNS = [_ITEM.c.route, _ITEM.c.storage, _ITEM.c.odour_prone,
                      _ZONE.c.code.label("zone_code"), _ZONE.c.name.label("zone_name"), _ZONE.c.admits,
                      _ZONE.c.route_group, _ZONE.c.storage.label("zone_storage"),
                      _ZONE.c.odour_prone.label("zone_odour_prone"), _ZONE.c.purpose]


def _good_stock_of(item_id: Any) -> Any:
    """The item's stock that can be sold today (not expired, not stopped), in split units."""
    return (sa.select(sa.func.coalesce(sa.func.sum(_BAL.c.qty), 0))
            .join(_BATCH, _BATCH.c.id == _BAL.c.batch_id)
            .where(_BAL.c.store_id == sa.bindparam("sid"), _BAL.c.item_id == item_id, _BAL.c.location == "sellable",
                   _BAL.c.qty > 0, _BATCH.c.expires_on >= sa.bindparam("today"),
                   _BATCH.c.status != BatchStatus.STOPPED.value))


# The item as a scan reads it carries what can be sold of it: no separate read for the common case.
_GOOD_STOCK_COLUMN = _good_stock_of(_ITEM.c.id).scalar_subquery().label("good_stock")
_GOOD_STOCK = Prepared(_good_stock_of(sa.bindparam("item")))
_ITEM_BY_BARCODE = Prepared(sa.select(*_ITEM_COLUMNS, *_SHOWN_COLUMNS, *_PLACEMENT_COLUMNS, _GOOD_STOCK_COLUMN)
                            .join(_BARCODE, _BARCODE.c.item_id == _ITEM.c.id)
                            .outerjoin(_ZONE, _ZONE.c.id == _ITEM.c.zone_id)
                            .where(_BARCODE.c.store_id == sa.bindparam("sid"), _BARCODE.c.code == sa.bindparam("code")))
_ITEM_BY_ID = Prepared(sa.select(*_ITEM_COLUMNS, *_SHOWN_COLUMNS, *_PLACEMENT_COLUMNS, _GOOD_STOCK_COLUMN)
                       .outerjoin(_ZONE, _ZONE.c.id == _ITEM.c.zone_id)
                       .where(_ITEM.c.store_id == sa.bindparam("sid"), _ITEM.c.id == sa.bindparam("id")))


def placement_refusals(item: Any) -> list[Any]:
    """GSP-01..03 at the till: an item not standing in a zone that admits it is not sold until fixed."""
    if item.zone_code is None:
        return [Violation("GSP-02", f"{item.name} 未分配陈列区，须先上架到合规区域才能销售",
                          f"{item.code} is not placed in any zone: place it before selling it", {"item": item.code})]
    return list(_placement_verdict(item.code, item.name, item.gsp_class, item.route, item.storage, item.odour_prone,
                                   item.zone_code, item.zone_name, tuple(item.admits), item.route_group,
                                   item.zone_storage, item.zone_odour_prone, item.purpose))


@functools.lru_cache(maxsize=4096)
def _placement_verdict(code: str, name: str, gsp_class: str, route: str, storage: str, odour_prone: bool,
                       zone_code: str, zone_name: str, admits: tuple[str, ...], route_group: str, zone_storage: str,
                       zone_odour_prone: bool, purpose: str) -> tuple[Violation, ...]:
    """The pure GSP check, remembered: the same item in the same zone gets the same verdict on every scan."""
    zone = ZoneSpec(zone_code, zone_name, frozenset(GspClass(c) for c in admits), route_group, Storage(zone_storage),
                    zone_odour_prone, ZonePurpose(purpose))
    spec = ItemSpec(code, name, GspClass(gsp_class), Route(route), Storage(storage), odour_prone)
    return tuple(check_placement(spec, zone))

# The basket's lines with what the till shows of each item: read once by a scan, which changes one of
# them (or adds one) and answers with the list, so the basket is not read again.
_LINE_VIEW_KEYS = ("id", "line_no", "item_id", "split", "qty", "unit_price_fen", "amount_fen")
_VIEW_KEYS = ("code", "name", "spec", "gsp_class", "insurance_category", "unit", "split_unit", "traced")
_LINE_VIEWS = Prepared(sa.select(*(_LINE.c[k] for k in _LINE_VIEW_KEYS), *(_ITEM.c[k] for k in _VIEW_KEYS))
                       .join(_ITEM, _ITEM.c.id == _LINE.c.item_id)
                       .where(_LINE.c.sale_id == sa.bindparam("sale")).order_by(_LINE.c.line_no))
_LINE_KEYS = ("store_id", "sale_id", "line_no", "item_id", "split", "qty", "unit_price_fen", "amount_fen", "added_at")
_ADD_LINE = Prepared(sa.insert(_LINE).returning(_LINE.c.id), _LINE_KEYS)
# Returns the line's added_at, for the audit's image of the line before: read only for the line changed.
_SET_LINE = Prepared(sa.update(_LINE).where(_LINE.c.id == sa.bindparam("line"))
                     .values(qty=sa.bindparam("qty"), amount_fen=sa.bindparam("amount")).returning(_LINE.c.added_at))
_ADD_TO_TOTAL = Prepared(sa.update(_SALE).where(_SALE.c.id == sa.bindparam("sale"))
                         .values(total_fen=_SALE.c.total_fen + sa.bindparam("delta")))


def check_basket(s: Session, ctx: Ctx, sale_id: str, till_id: int) -> None:
    """The sale can still change: open, on this till, in an open shift (locked for the edit)."""
    _basket_row(s, ctx, sale_id, till_id)


def _basket_row(s: Unit, ctx: Ctx, sale_id: str, till_id: int) -> Any:
    """_basket's checks for the scan path, in one locked read; the sale's columns as they were."""
    row = _BASKET.first(s.connection(), {"sale": sale_id, "sid": ctx.store_id})
    if row is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    if refusal := _basket_refusal(row.status, row.till_id, row.shift_status, till_id):
        raise refusal
    return row


def add_line(s: Session, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
             barcode: str | None = None, item_id: int | None = None) -> int:
    """Scan (or pick) an item into the basket: a new line, or more of the same line. Returns the line id."""
    return _add_line(s, ctx, sale_id, till_id, qty, split, barcode, item_id)[0]


@dataclass(frozen=True, slots=True)
class Basket:
    """An open sale after a scan: its columns, and its lines as line_views gives them."""
    sale: Any
    lines: list[dict[str, Any]]


def scan(s: Unit, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
         barcode: str | None = None, item_id: int | None = None) -> Basket:
    """add_line for the till: the basket after it, from what the scan read, without reading it again."""
    return _add_line(s, ctx, sale_id, till_id, qty, split, barcode, item_id)[1]


def _add_line(s: Unit, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
              barcode: str | None, item_id: int | None) -> tuple[int, Basket]:
    if not 0 < qty <= MAX_LINE_QTY:
        raise AppError(422, "SALE-QTY", f"数量须在 1 到 {MAX_LINE_QTY} 之间", f"quantity must be 1..{MAX_LINE_QTY}",
                       {"qty": qty})
    sale = _basket_row(s, ctx, sale_id, till_id)
    conn = s.connection()
    if barcode is not None:
        item = _ITEM_BY_BARCODE.first(conn, {"sid": ctx.store_id, "code": barcode, "today": ctx.today})
        if item is None:
            raise not_found(f"条码 {barcode} 对应的商品", f"item with barcode {barcode}", barcode=barcode)
    elif item_id is not None:
        item = _ITEM_BY_ID.first(conn, {"sid": ctx.store_id, "id": item_id, "today": ctx.today})
        if item is None:
            raise not_found("商品", "item", item_id=item_id)
    else:
        raise AppError(422, "VALIDATION", "请扫描条码或选择商品", "give a barcode or an item id")
    if not item.active:
        raise AppError(422, "SALE-ITEM", f"{item.name} 已停售", f"item {item.code} is inactive", {"item": item.code})
    if problems := placement_refusals(item):
        raise refused(problems)
    price = _unit_price(item, split)
    lines = [r._asdict() for r in _LINE_VIEWS.rows(conn, {"sale": sale_id})]
    line = next((ln for ln in lines if ln["item_id"] == item.id and ln["split"] == split), None)
    new_qty = qty + (line["qty"] if line else 0)
    same_item = sum(_base_qty(item, ln["split"], ln["qty"]) for ln in lines
                    if ln["item_id"] == item.id and ln is not line)
    _check_available(s, ctx, item, same_item + _base_qty(item, split, new_qty), item.good_stock)
    if line is None:
        image = {"store_id": ctx.store_id, "sale_id": sale_id, "line_no": (lines[-1]["line_no"] + 1) if lines else 1,
                 "item_id": item.id, "split": split, "qty": new_qty, "unit_price_fen": price,
                 "amount_fen": new_qty * price, "added_at": ctx.now}
        line_id = _ADD_LINE.scalar(conn, image)
        before = None
        lines.append({"id": line_id} | image | {k: getattr(item, k) for k in _VIEW_KEYS})
    else:
        line_id, price = line["id"], line["unit_price_fen"]
        added_at = _SET_LINE.scalar(conn, {"line": line_id, "qty": new_qty, "amount": new_qty * price})
        before = {"store_id": ctx.store_id, "sale_id": sale_id, "line_no": line["line_no"], "item_id": item.id,
                  "split": split, "qty": line["qty"], "unit_price_fen": price, "amount_fen": line["qty"] * price,
                  "added_at": added_at}
        image = before | {"qty": new_qty, "amount_fen": new_qty * price}
        line.update(qty=new_qty, amount_fen=new_qty * price)
    _ADD_TO_TOTAL.run(conn, {"sale": sale_id, "delta": qty * price})
    audit.record(s, ctx.store_id, ctx.actor, "sale.line_add", "sale_line", line_id,
                 before and {"id": line_id} | before, {"id": line_id} | image)
    return line_id, Basket(SimpleNamespace(**(sale._asdict() | {"total_fen": sale.total_fen + qty * price})), lines)


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
    elif not line.split and qty < (scanned := trace_codes.count_for_line(s, line.id)):  # type: ignore[arg-type]
        raise AppError(422, "TRACE-COUNT", f"已为 {item.name} 扫了 {scanned} 个追溯码，请先删去多余的再减数量",
                       f"{scanned} trace codes are scanned for {item.code}: remove the extra ones first",
                       {"line_id": line.id, "codes": scanned, "qty": qty})
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
    codes = trace_codes.drop_line_codes(s, line.id)  # type: ignore[arg-type]
    sale.total_fen -= line.amount_fen
    s.delete(line)
    s.add(sale)
    # A removed line is the classic way to pocket cash: the log keeps it, whoever removed it.
    audit.record(s, ctx.store_id, ctx.actor, "sale.line_remove", "sale_line", line_id, before | {"trace_codes": codes},
                 None)
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
    if sale.status == SaleStatus.SETTLING.value:
        raise conflict("SETTLE-UNCERTAIN", "该销售单医保结算结果待确认，须先处理结算", "the sale's card settlement is unresolved")
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
    sale: Any  # the sale's columns as committed: a Sale, or the row complete() read and wrote
    replayed: bool = False
    allocations: list[dict[str, int]] = field(default_factory=list)
    lines: list[dict[str, Any]] | None = None  # the line views (line_views), when the completion has them


_TILL = Till.__table__  # type: ignore[attr-defined]
_STORE, _TENDER = Store.__table__, Tender.__table__  # type: ignore[attr-defined]
_COUNTER, _MOVEMENT = DayCounter.__table__, StockMovement.__table__  # type: ignore[attr-defined]
_SELLING_POINT = Prepared(sa.select(_TILL.c.id, _TILL.c.store_id, _TILL.c.site_code, _TILL.c.status,
                            _STORE.c.site_code.label("store_site"), _SHIFT.c.id.label("shift_id"))
                  .select_from(_TILL).join(_STORE, _STORE.c.id == _TILL.c.store_id)
                  .outerjoin(_SHIFT, (_SHIFT.c.till_id == _TILL.c.id) & (_SHIFT.c.status == ShiftStatus.OPEN.value))
                  .where(_TILL.c.store_id == sa.bindparam("sid"), _TILL.c.code == sa.bindparam("code")))


def _taking_a_number(insert: Any) -> Prepared:
    """The day's next number in one statement: the day's row made at its first sale, moved on at the others;
    the row stays locked until the sale commits, and two first sales at once both get a number (ON CONFLICT)."""
    first = insert(_COUNTER).values(store_id=sa.bindparam("sid"), business_date=sa.bindparam("day"), last_no=1)
    return Prepared(first.on_conflict_do_update(index_elements=[_COUNTER.c.store_id, _COUNTER.c.business_date],
                                                set_={"last_no": _COUNTER.c.last_no + 1})
                    .returning(_COUNTER.c.last_no))


_NEXT_NO = {"sqlite": _taking_a_number(sqlite_dialect.insert), "postgresql": _taking_a_number(postgresql_dialect.insert)}
_SALE_LOCKED = Prepared(sa.select(_SALE).where(_SALE.c.id == sa.bindparam("sale"), _SALE.c.store_id == sa.bindparam("sid"))
                        .with_for_update())
_FULL_LINES = Prepared(sa.select(_LINE).where(_LINE.c.sale_id == sa.bindparam("sale")).order_by(_LINE.c.line_no))
# The sale's items (with what the till shows of them) and their sellable batches, found through the sale's
# lines: one statement each, whatever the number of items.
_SALE_ITEM_IDS = sa.select(_LINE.c.item_id).where(_LINE.c.sale_id == sa.bindparam("sale"))
_ITEMS_FOR_STOCK = Prepared(sa.select(*_ITEM_COLUMNS, *_SHOWN_COLUMNS)
                            .where(_ITEM.c.store_id == sa.bindparam("sid"), _ITEM.c.id.in_(_SALE_ITEM_IDS)))
_STOCKED = Prepared(sa.select(_BAL.c.batch_id, _BAL.c.item_id, _BAL.c.qty, _BATCH.c.expires_on, _BATCH.c.status)
                    .join(_BATCH, _BATCH.c.id == _BAL.c.batch_id)
                    .where(_BAL.c.store_id == sa.bindparam("sid"), _BAL.c.item_id.in_(_SALE_ITEM_IDS),
                           _BAL.c.location == "sellable", _BAL.c.qty > 0)
                    # one fixed order for every seller: two tills never wait on each other's locks crosswise
                    .order_by(_BAL.c.item_id, _BATCH.c.expires_on, _BATCH.c.id)
                    .with_for_update(of=_BAL))
_TAKE = Prepared(sa.update(_BAL).where(_BAL.c.batch_id == sa.bindparam("b"), _BAL.c.location == "sellable")
                 .values(qty=_BAL.c.qty - sa.bindparam("take")))
_MOVEMENT_KEYS = ("store_id", "batch_id", "item_id", "kind", "qty", "location", "at", "user_id", "ref_type", "ref_id",
                  "corrects_id", "note")
_ADD_MOVEMENTS = Prepared(sa.insert(_MOVEMENT), _MOVEMENT_KEYS)
_ADD_TENDERS = Prepared(sa.insert(_TENDER), ("store_id", "sale_id", "kind", "amount_fen", "tendered_fen", "reference"))
_FINAL_KEYS = ("business_date", "day_no", "sale_no", "status", "completed_by", "completed_at", "total_fen", "change_fen")
_FINISH = Prepared(sa.update(_SALE).where(_SALE.c.id == sa.bindparam("sale")), _FINAL_KEYS)
_DISPENSE = sa.update(_LINE).where(_LINE.c.id == sa.bindparam("line")).values(rx_line_id=sa.bindparam("rx_line"))


def _selling_point(s: Unit, ctx: Ctx, till_code: str) -> tuple[int, int]:
    """The registered till and its open shift, in one read: CARD-06 / AGR-02, and a closed shift takes no sale."""
    row = _SELLING_POINT.first(s.connection(), {"sid": ctx.store_id, "code": till_code})
    if row is None or till_refusals(row.store_id, row.site_code, row.status, ctx.store_id, row.store_site):
        usable_till(orm(s), ctx, till_code)  # the refusal, worded once
    if row.shift_id is None:  # type: ignore[union-attr]
        open_shift_for(orm(s), ctx, till_code)
    return row.id, row.shift_id  # type: ignore[union-attr]


def _next_number(s: Unit, ctx: Ctx) -> tuple[Any, int]:
    """Gap-free per store and business day: the counter row stays locked until the sale commits."""
    conn = s.connection()
    return ctx.today, _NEXT_NO[conn.dialect.name].scalar(conn, {"sid": ctx.store_id, "day": ctx.today})


def complete(s: Unit, ctx: Ctx, sale_id: str, till_code: str, offers: list[TenderOffer],
             settling: bool = False) -> Completion:
    """Make the sale final: number, stock by batch, tenders, audit — one transaction; a retry replays.

    `settling`: called by the card settlement with the centre's answer; only then may an insurance tender
    pay and a sale marked "settling" complete (CARD-01: the card's part is the centre's, not the client's).
    """
    s.flush()  # the sale is read through the connection: what the caller changed in the session is written first
    conn = s.connection()
    sale = _SALE_LOCKED.first(conn, {"sale": sale_id, "sid": ctx.store_id})
    if sale is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    if sale.status == SaleStatus.COMPLETED.value:
        # A retry from the till that completed it gets the first result; another till is told it lost.
        if usable_till(orm(s), ctx, till_code).id != sale.till_id:
            raise conflict("SALE-TAKEN", f"该销售单已在其他收款机完成（小票号 {sale.sale_no}）",
                           f"the sale was completed on another till ({sale.sale_no})", sale_no=sale.sale_no)
        return Completion(sale, replayed=True)
    if sale.prescription_id is not None:
        orm(s)  # its checks (RX-01/04/10) read through the ORM: asked for first, before work the loop's unit would undo
    till_id, shift_id = _selling_point(s, ctx, till_code)
    if sale.status != (SaleStatus.SETTLING if settling else SaleStatus.OPEN).value:
        raise conflict("SETTLE-UNCERTAIN" if sale.status == SaleStatus.SETTLING.value else "SALE-STATE",
                       f"销售单已{_STATE_ZH[sale.status]}，不能收款", f"the sale is {sale.status}", status=sale.status)
    if not settling and any(o.kind == TenderKind.INSURANCE.value for o in offers):
        raise AppError(422, "CARD-01", "医保支付须经医保结算，不能直接记为收款",
                       "the insurance tender comes only from a card settlement")
    if sale.till_id != till_id:
        raise conflict("SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till")
    if sale.shift_id != shift_id:
        raise conflict("SHIFT-CLOSED", "该销售单所属班次已结班，请取单后在本班次收款",
                       "the sale's shift is closed; resume it in the current shift")
    lines = [r._asdict() for r in _FULL_LINES.rows(conn, {"sale": sale.id})]
    if not lines:
        raise AppError(422, "SALE-EMPTY", "空单不能收款", "an empty sale cannot be completed")
    total = sum(ln["amount_fen"] for ln in lines)
    if problems := tender_refusals(total, offers):
        raise refused(problems)
    items = {r.id: r for r in _ITEMS_FOR_STOCK.rows(conn, {"sid": ctx.store_id, "sale": sale.id})}
    dispensing = _prescription_check(s, ctx, sale, lines, items)
    traced = any(items[ln["item_id"]].traced for ln in lines)
    if traced and (missing := trace_codes.completion_refusals(orm(s), sale.id, lines, items)):
        first = missing[0]
        raise AppError(first.status, first.code, first.message_zh, first.message_en,
                       first.details | {"lines": [e.details for e in missing]})
    before = audit.row_image(sale._asdict())
    allocations = _take_stock(s, ctx, sale.id, lines, items)
    if dispensing:
        conn.execute(_DISPENSE, [{"line": line_id, "rx_line": rx_line_id} for line_id, rx_line_id in dispensing.items()])
        for ln in lines:
            ln["rx_line_id"] = dispensing.get(ln["id"], ln["rx_line_id"])
    if traced:
        trace_codes.mark_sold(orm(s), sale.id)
    day, no = _next_number(s, ctx)
    final = {"business_date": day, "day_no": no, "sale_no": f"{day:%Y%m%d}-{no:04d}",
             "status": SaleStatus.COMPLETED.value, "completed_by": ctx.actor.user_id, "completed_at": ctx.now,
             "total_fen": total, "change_fen": change_fen(offers)}
    _FINISH.run(conn, {"sale": sale.id, **final})
    done = sale._replace(**final)
    session = loaded_session(s)
    if session is not None and (loaded := session.identity_map.get(identity_key(Sale, sale.id))) is not None:
        for key, value in final.items():  # a Sale this session holds shows what was written (no UPDATE at flush)
            set_committed_value(loaded, key, value)
    tenders = [{"store_id": ctx.store_id, "sale_id": sale.id, "kind": o.kind, "amount_fen": o.amount_fen,
                "tendered_fen": o.tendered_fen, "reference": o.reference} for o in offers]
    _ADD_TENDERS.run_many(conn, tenders)
    audit.record(s, ctx.store_id, ctx.actor, "sale.complete", "sale", sale.id, before,
                 audit.row_image(done._asdict()) | {"lines": lines, "tenders": tenders, "allocations": allocations})
    views = [{k: ln[k] for k in _LINE_VIEW_KEYS} | {k: getattr(items[ln["item_id"]], k) for k in _VIEW_KEYS}
             for ln in lines]
    return Completion(done, allocations=allocations, lines=views)


def precheck(s: Session, ctx: Ctx, sale: Sale, till_code: str, offers: list[TenderOffer]) -> None:
    """What completion would refuse, checked before a card settlement leaves for the centre: the till and
    shift, the tenders one by one, RX-01/04/10, trace codes and stock — so a refusal costs no 2102 + 2601."""
    till_id, shift_id = _selling_point(s, ctx, till_code)
    if sale.till_id != till_id or sale.shift_id != shift_id:
        raise conflict("SALE-TILL", "该销售单不在本收款机的当前班次", "the sale is not on this till's current shift")
    if problems := offer_refusals(offers):
        raise refused(problems)
    conn = s.connection()
    lines = [r._asdict() for r in _FULL_LINES.rows(conn, {"sale": sale.id})]
    if not lines:
        raise AppError(422, "SALE-EMPTY", "空单不能收款", "an empty sale cannot be completed")
    items = {r.id: r for r in _ITEMS_FOR_STOCK.rows(conn, {"sid": ctx.store_id, "sale": sale.id})}
    _prescription_check(s, ctx, sale, lines, items)
    if any(it.traced for it in items.values()) and (missing := trace_codes.completion_refusals(s, sale.id, lines, items)):
        raise missing[0]
    for item_id, item in items.items():
        _check_available(s, ctx, item, sum(_base_qty(item, ln["split"], ln["qty"])
                                           for ln in lines if ln["item_id"] == item_id))


def _prescription_check(s: Unit, ctx: Ctx, sale: Any, lines: list[dict[str, Any]],
                        items: dict[int, Any]) -> dict[int, int]:
    """RX-01 for every tender: Rx lines only against an approved prescription (RX-04, RX-10 with it)."""
    rx_lines = [prescriptions.RxLineView(ln["id"], ln["item_id"], items[ln["item_id"]].name, ln["qty"], ln["split"],
                                         items[ln["item_id"]].split_ratio)
                for ln in lines if items[ln["item_id"]].gsp_class == GspClass.RX.value]
    if not rx_lines:
        return {}
    plan, problems = prescriptions.completion_refusals(orm(s), ctx, sale, rx_lines)
    if problems:
        raise refused(problems)
    return plan


def _take_stock(s: Unit, ctx: Ctx, sale_id: str, lines: list[dict[str, Any]],
                items: dict[int, Any]) -> list[dict[str, int]]:
    """Stock leaves by batch, earliest expiry first; expired or stopped batches never (GSP-06).

    All the sale's items in one locked read, and the movements and balances in two batched writes.
    """
    conn = s.connection()
    item_ids = sorted(items)
    batches: dict[int, list[list[int]]] = {i: [] for i in item_ids}  # item -> [[batch_id, qty], ...] FEFO
    blocked: set[int] = set()
    for r in _STOCKED.rows(conn, {"sid": ctx.store_id, "sale": sale_id}):
        if r.expires_on < ctx.today or r.status == BatchStatus.STOPPED.value:
            blocked.add(r.item_id)
        else:
            batches[r.item_id].append([r.batch_id, r.qty])
    out: list[dict[str, int]] = []
    for item_id in item_ids:
        item = items[item_id]
        mine = [ln for ln in lines if ln["item_id"] == item_id]
        need = sum(_base_qty(item, ln["split"], ln["qty"]) for ln in mine)
        if need > sum(q for _, q in batches[item_id]):
            full = get_item(orm(s), ctx, item_id)  # the refusal names the batches and why they cannot be sold
            raise stock.shortage(full, need, stock.sellable_stock(orm(s), ctx, full))
        fefo = batches[item_id]
        for ln in mine:
            remaining = _base_qty(item, ln["split"], ln["qty"])
            while remaining:
                batch_id, qty = fefo[0]
                take = min(qty, remaining)
                out.append({"line_id": ln["id"], "batch_id": batch_id, "qty": take, "item_id": item_id})
                remaining -= take
                fefo[0][1] -= take
                if fefo[0][1] == 0:
                    fefo.pop(0)
    _TAKE.run_many(conn, [{"b": a["batch_id"], "take": a["qty"]} for a in out])
    _ADD_MOVEMENTS.run_many(conn, [
        {"store_id": ctx.store_id, "batch_id": a["batch_id"], "item_id": a["item_id"], "kind": MovementKind.SALE.value,
         "qty": -a["qty"], "location": "sellable", "at": ctx.now, "user_id": ctx.actor.user_id,
         "ref_type": "sale_line", "ref_id": str(a["line_id"]), "corrects_id": None, "note": ""} for a in out])
    return [{"line_id": a["line_id"], "batch_id": a["batch_id"], "qty": a["qty"]} for a in out]


def stock_moved_for(s: Session, line_ids: list[int]) -> dict[int, list[StockMovement]]:
    rows = s.exec(select(StockMovement).where(StockMovement.ref_type == "sale_line",
                                              StockMovement.ref_id.in_([str(i) for i in line_ids]))  # type: ignore[attr-defined]
                  .order_by(StockMovement.id)).all()
    out: dict[int, list[StockMovement]] = {}
    for mv in rows:
        out.setdefault(int(mv.ref_id), []).append(mv)
    return out
