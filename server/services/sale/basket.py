"""The basket: a sale opened with the till's UUID, scanned into, changed, suspended, resumed or voided —
one use case each. Completing it is complete.py.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from catalog.codes import GTIN_LENGTHS, check_gtin
from catalog.violations import Violation
from server import audit
from server.db.models import Sale, SaleStatus, ShiftStatus
from server.db.models.base import id_of
from server.db.prepared import Prepared
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.rules import care as care_rules
from server.services import sales_ledger
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.sale import trace_codes
from server.services.sale.lines import (
    ITEM_BY_BARCODE,
    ITEM_BY_ID,
    LINE_VIEWS,
    SALE,
    SHIFT,
    VIEW_KEYS,
    base_qty,
    check_available,
    placement_refusals,
    presence_refusals,
    qty_refusal,
    snapshot_of,
    unit_price,
)
from server.services.stock import ledger
from server.services.store import second_person
from server.services.store.shifts import open_shift_for


def _basket(u: Unit, ctx: Ctx, sale_id: str, till_id: int) -> Any:
    """A sale that can still change: open, on this till, in a shift still open; its row, locked for the edit.

    The scan path checks only this much (one read); the till's registration was checked when the session
    logged in and is checked again at completion.
    """
    return _basket_row(u, ctx, sale_id, till_id)


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


# --- the basket -------------------------------------------------------------------------------------

def open_sale(u: Unit, ctx: Ctx, sale_id: str, till_code: str) -> Any:
    """A sale opened with the till's UUID; its row. Opening the same id again on the same till is a no-op."""
    till, shift = open_shift_for(orm(u), ctx, till_code)
    existing = sales_ledger.find_sale(u, sale_id)
    if existing is not None:
        if existing.store_id == ctx.store_id and existing.till_id == till.id:
            return existing
        raise conflict("SALE-ID", "销售单号已被使用", "this sale id is already used", sale_id=sale_id)
    sale = sales_ledger.open_sale(u, ctx, sale_id, id_of(till), id_of(shift))
    audit.record(u, ctx.store_id, ctx.actor, "sale.open", "sale", sale.id, None, audit.row_image(sale._asdict()))
    return sale


# The scan path runs on every keystroke-burst at every till: its statements are built once and run
# prepared (server.db.prepared), without the ORM's unit of work (the route's session holds nothing else).
_BASKET = Prepared(sa.select(SALE, SHIFT.c.status.label("shift_status"))
                   .join(SHIFT, SHIFT.c.id == SALE.c.shift_id)
                   .where(SALE.c.id == sa.bindparam("sale"), SALE.c.store_id == sa.bindparam("sid"))
                   .with_for_update(of=SALE))


def check_basket(u: Unit, ctx: Ctx, sale_id: str, till_id: int) -> None:
    """The sale can still change: open, on this till, in an open shift (locked for the edit)."""
    _basket_row(u, ctx, sale_id, till_id)


def _basket_row(u: Unit, ctx: Ctx, sale_id: str, till_id: int) -> Any:
    """_basket's checks for the scan path, in one locked read; the sale's columns as they were."""
    row = _BASKET.first(u.connection(), {"sale": sale_id, "sid": ctx.store_id})
    if row is None:
        raise not_found("销售单", "sale", sale_id=sale_id)
    if refusal := _basket_refusal(row.status, row.till_id, row.shift_status, till_id):
        raise refusal
    return row


def add_line(u: Unit, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
             barcode: str | None = None, item_id: int | None = None) -> int:
    """Scan (or pick) an item into the basket: a new line, or more of the same line. Returns the line id."""
    return _add_line(u, ctx, sale_id, till_id, qty, split, barcode, item_id)[0]


@dataclass(frozen=True, slots=True)
class Basket:
    """An open sale after a scan: its columns, its lines as line_views gives them, and what the till should warn
    of (the batch the sale takes first is near expiry: GSP-06, a warning, not a refusal)."""
    sale: Any
    lines: list[dict[str, Any]]
    warnings: list[Violation] = field(default_factory=list)


def scan(u: Unit, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
         barcode: str | None = None, item_id: int | None = None) -> Basket:
    """add_line for the till: the basket after it, from what the scan read, without reading it again."""
    return _add_line(u, ctx, sale_id, till_id, qty, split, barcode, item_id)[1]


def _add_line(u: Unit, ctx: Ctx, sale_id: str, till_id: int, qty: int, split: bool,
              barcode: str | None, item_id: int | None) -> tuple[int, Basket]:
    if (problem := qty_refusal(qty)) is not None:
        raise problem
    sale = _basket_row(u, ctx, sale_id, till_id)
    conn = u.connection()
    if barcode is not None:
        if not barcode.isascii():  # full-width digits from a Chinese IME are the same code
            barcode = unicodedata.normalize("NFKC", barcode).strip()
        item = ITEM_BY_BARCODE.first(conn, {"sid": ctx.store_id, "code": barcode, "today": ctx.today})
        if item is None:
            if barcode.isdigit() and len(barcode) in GTIN_LENGTHS and (problems := check_gtin(barcode)):
                raise refused(problems)  # a mistyped code: its check digit is wrong, and the right one is named
            raise not_found(f"条码 {barcode} 对应的商品", f"item with barcode {barcode}", barcode=barcode)
    elif item_id is not None:
        item = ITEM_BY_ID.first(conn, {"sid": ctx.store_id, "id": item_id, "today": ctx.today})
        if item is None:
            raise not_found("商品", "item", item_id=item_id)
    else:
        raise AppError(422, "VALIDATION", "请扫描条码或选择商品", "give a barcode or an item id")
    if not item.active:
        raise AppError(422, "SALE-ITEM", f"{item.name} 已停售", f"item {item.code} is inactive", {"item": item.code})
    if problems := placement_refusals(item) or presence_refusals(u, ctx, [item]):
        raise refused(problems)
    price = unit_price(item, split)
    lines = [r._asdict() for r in LINE_VIEWS.rows(conn, {"sale": sale_id})]
    line = next((ln for ln in lines if ln["item_id"] == item.id and ln["split"] == split), None)
    new_qty = qty + (line["qty"] if line else 0)
    same_item = sum(base_qty(item, ln["split"], ln["qty"]) for ln in lines
                    if ln["item_id"] == item.id and ln is not line)
    check_available(u, ctx, item, same_item + base_qty(item, split, new_qty), item.good_stock)
    if line is None:
        # The line keeps what the scan read of its item (the completion writes what its own rules judged).
        image = {"store_id": ctx.store_id, "sale_id": sale_id, "line_no": (lines[-1]["line_no"] + 1) if lines else 1,
                 "item_id": item.id, "split": split, "qty": new_qty, "unit_price_fen": price,
                 "amount_fen": new_qty * price, "added_at": ctx.now} | snapshot_of(item)
        line_id = sales_ledger.add_line(u, image)
        before = None
        lines.append({"id": line_id} | image | {k: getattr(item, k) for k in VIEW_KEYS})
    else:
        # More of a line: its price and what it keeps of its item stay as first scanned.
        line_id, price = line["id"], line["unit_price_fen"]
        kept = sales_ledger.set_line(u, line_id, new_qty, new_qty * price)._asdict()
        before = {"store_id": ctx.store_id, "sale_id": sale_id, "line_no": line["line_no"], "item_id": item.id,
                  "split": split, "qty": line["qty"], "unit_price_fen": price, "amount_fen": line["qty"] * price} | kept
        image = before | {"qty": new_qty, "amount_fen": new_qty * price}
        line.update(qty=new_qty, amount_fen=new_qty * price)
    sale = sales_ledger.add_to_total(u, sale_id, qty * price)
    audit.record(u, ctx.store_id, ctx.actor, "sale.line_add", "sale_line", line_id,
                 before and {"id": line_id} | before, {"id": line_id} | image)
    warnings = []
    if item.next_expiry is not None and care_rules.near_expiry(item.next_expiry, ctx.today,
                                                               ctx.settings.rules.near_expiry_days):
        lot = ledger.first_batch_lot(u, ctx, item.id)
        warnings.append(care_rules.near_expiry_warning(item.name, lot, item.next_expiry, ctx.today))
    return line_id, Basket(sale, lines, warnings)


def set_line_qty(u: Unit, ctx: Ctx, sale_id: str, till_id: int, line_id: int, qty: int) -> Any:
    """A line's quantity changed; the sale's row after it."""
    _basket(u, ctx, sale_id, till_id)
    if (problem := qty_refusal(qty)) is not None:
        raise problem
    lines = sales_ledger.lines(u, sale_id)
    line = next((ln for ln in lines if ln["id"] == line_id), None)
    if line is None:
        raise not_found("销售行", "sale line", line_id=line_id)
    item = get_item(orm(u), ctx, line["item_id"])
    others = sum(base_qty(item, ln["split"], ln["qty"]) for ln in lines
                 if ln["item_id"] == item.id and ln is not line)
    if qty > line["qty"]:
        check_available(u, ctx, item, others + base_qty(item, line["split"], qty))
    elif not line["split"] and qty < (scanned := trace_codes.count_for_line(orm(u), line_id)):
        raise AppError(422, "TRACE-COUNT", f"已为 {item.name} 扫了 {scanned} 个追溯码，请先删去多余的再减数量",
                       f"{scanned} trace codes are scanned for {item.code}: remove the extra ones first",
                       {"line_id": line_id, "codes": scanned, "qty": qty})
    price = line["unit_price_fen"]
    sales_ledger.set_line(u, line_id, qty, qty * price)
    sale = sales_ledger.add_to_total(u, sale_id, (qty - line["qty"]) * price)
    audit.record(u, ctx.store_id, ctx.actor, "sale.line_qty", "sale_line", line_id, audit.row_image(line),
                 audit.row_image(line | {"qty": qty, "amount_fen": qty * price}))
    return sale


def remove_line(u: Unit, ctx: Ctx, sale_id: str, till_id: int, line_id: int) -> Any:
    """A line taken off the basket; the sale's row after it."""
    _basket(u, ctx, sale_id, till_id)
    line = next((ln for ln in sales_ledger.lines(u, sale_id) if ln["id"] == line_id), None)
    if line is None:
        raise not_found("销售行", "sale line", line_id=line_id)
    codes = trace_codes.drop_line_codes(u, line_id)
    sales_ledger.drop_line(u, line_id)
    sale = sales_ledger.add_to_total(u, sale_id, -line["amount_fen"])
    # A removed line is the classic way to pocket cash: the log keeps it, whoever removed it.
    audit.record(u, ctx.store_id, ctx.actor, "sale.line_remove", "sale_line", line_id,
                 audit.row_image(line) | {"trace_codes": codes}, None)
    return sale


def suspend(u: Unit, ctx: Ctx, sale_id: str, till_id: int) -> Any:
    before = _basket(u, ctx, sale_id, till_id)
    if not sales_ledger.lines(u, sale_id):
        raise AppError(422, "SALE-EMPTY", "空单不能挂单", "an empty sale cannot be suspended")
    sale = sales_ledger.change_sale(u, sale_id, status=SaleStatus.SUSPENDED.value, suspended_at=ctx.now)
    audit.record(u, ctx.store_id, ctx.actor, "sale.suspend", "sale", sale_id, _image(before), _image(sale))
    return sale


def _image(sale: Any) -> dict[str, Any]:
    """The sale's audited image: its columns (a basket read carries its shift's status too: left out)."""
    return audit.row_image({k: v for k, v in sale._asdict().items() if k != "shift_status"})


def resume(u: Unit, ctx: Ctx, sale_id: str, till_code: str) -> Any:
    """挂单 resumed on any till of the store; it moves to that till's current shift. One till wins."""
    till, shift = open_shift_for(orm(u), ctx, till_code)
    before = sales_ledger.sale(u, ctx, sale_id, lock=True)
    if before.status != SaleStatus.SUSPENDED.value:
        raise conflict("SALE-STATE", f"销售单已{_STATE_ZH[before.status]}，不能取单",
                       f"the sale is {before.status}, not suspended", status=before.status, till_id=before.till_id)
    sale = sales_ledger.change_sale(u, sale_id, status=SaleStatus.OPEN.value, till_id=id_of(till),
                                    shift_id=id_of(shift), suspended_at=None)
    audit.record(u, ctx.store_id, ctx.actor, "sale.resume", "sale", sale_id, _image(before), _image(sale))
    return sale


def suspended_sales(s: Session, ctx: Ctx) -> list[Sale]:
    return list(s.exec(select(Sale).where(Sale.store_id == ctx.store_id, Sale.status == SaleStatus.SUSPENDED.value)
                       .order_by(col(Sale.suspended_at))))


def void(u: Unit, ctx: Ctx, sale_id: str, reason: str, confirmation: second_person.Confirmation | None = None) -> Any:
    """Void a sale not yet completed (open or suspended), with a reason; the voiding user is recorded, and the
    second person who checked a void above the store's amount (SEC-01)."""
    before = sales_ledger.sale(u, ctx, sale_id, lock=True)
    if before.status == SaleStatus.VOIDED.value:
        return before
    if before.status == SaleStatus.COMPLETED.value:
        raise conflict("SALE-STATE", "已完成的销售不能作废，请办理退货", "a completed sale cannot be voided; make a return")
    if before.status == SaleStatus.SETTLING.value:
        raise conflict("SETTLE-UNCERTAIN", "该销售单医保结算结果待确认，须先处理结算", "the sale's card settlement is unresolved")
    if not reason.strip():
        raise AppError(422, "SALE-VOID", "作废须填写原因", "a void needs a reason")
    confirmed_by = second_person.require(u, ctx, "SEC-01", before.total_fen, False, confirmation)
    sale = sales_ledger.change_sale(u, sale_id, status=SaleStatus.VOIDED.value, voided_by=ctx.actor.user_id,
                                    voided_at=ctx.now, void_reason=reason, void_confirmed_by=confirmed_by)
    audit.record(u, ctx.store_id, ctx.actor, "sale.void", "sale", sale_id, _image(before),
                 _image(sale) | {"lines": [audit.row_image(ln) for ln in sales_ledger.lines(u, sale_id)]}, note=reason)
    return sale
