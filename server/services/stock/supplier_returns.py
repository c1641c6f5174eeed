"""购进退出 (purchase returns, 3504): goods of an approved delivery sent back to its supplier, by receipt line and
batch, from the shelf or from quarantine, with the reason — each line's stock leaves through the ledger at its
share of the batch's cost on hand (purchase_return). Never more than the line brought in, less what went back
before, and never more than the batch holds where it is taken from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server import audit
from server.db.models import Receipt, ReceiptLine, SupplierReturn, SupplierReturnLine
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, not_found
from server.rules.movements import MovementKind
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.stock import ledger, receiving


@dataclass(frozen=True, slots=True)
class ReturnLine:
    line_no: int  # the receipt's line
    qty: int  # split units (the smallest unit the item is sold in)
    location: str = ledger.SELLABLE  # or ledger.QUARANTINE: 待验 goods found unfit go back too


def returned_before(s: Session, receipt_line_ids: Sequence[int]) -> dict[int, int]:
    if not receipt_line_ids:
        return {}
    rows = s.exec(select(SupplierReturnLine.receipt_line_id, sa.func.sum(SupplierReturnLine.qty))
                  .where(col(SupplierReturnLine.receipt_line_id).in_(list(receipt_line_ids)))
                  .group_by(col(SupplierReturnLine.receipt_line_id))).all()
    return {int(i): int(q) for i, q in rows}


def return_to_supplier(u: Unit, ctx: Ctx, receipt_id: int, lines: Sequence[ReturnLine], reason: str,
                       purc_invo_no: str = "") -> SupplierReturn:
    s = orm(u)
    receipt: Receipt = receiving.get_receipt(s, ctx, receipt_id, lock=True)
    if receipt.kind != receiving.PURCHASE or receipt.status != receiving.APPROVED or receipt.supplier_id is None:
        raise AppError(409, "GSP-05", f"入库单 {receipt_id} 不是已审核的采购入库，不能退货",
                       f"receipt {receipt_id} is no approved delivery: nothing of it can go back",
                       {"kind": receipt.kind, "status": receipt.status})
    if not reason.strip():
        raise AppError(422, "VALIDATION", "购进退出须填写原因", "a return to the supplier needs a reason")
    invoice = (purc_invo_no or receipt.purc_invo_no).strip()
    if not invoice:  # 3504 requires the invoice number
        raise AppError(422, "VALIDATION", "购进退出须有采购发票号", "a return to the supplier names the purchase invoice")
    if not lines:
        raise AppError(422, "VALIDATION", "退货至少一行", "a return has at least one line")
    by_no: dict[int, ReceiptLine] = {ln.line_no: ln for ln in receiving.lines_of(s, receipt_id)}
    before = returned_before(s, [id_of(ln) for ln in by_no.values()])
    asked: dict[int, int] = {}
    for r in lines:
        line = by_no.get(r.line_no)
        if line is None:
            raise not_found("入库单行", "receipt line", receipt_id=receipt_id, line_no=r.line_no)
        if r.location not in (ledger.SELLABLE, ledger.QUARANTINE):
            raise AppError(422, "VALIDATION", f"库位 {r.location} 不认识", f"unknown location {r.location}")
        if r.qty <= 0:
            raise AppError(422, "VALIDATION", "退货数量须大于 0", "the quantity must be positive", {"qty": r.qty})
        if line.batch_id is None:
            raise AppError(409, "GSP-05", f"第 {r.line_no} 行已拒收，未入库，无可退", f"line {r.line_no} was rejected: it "
                           "never entered stock, nothing of it can go back", {"line_no": r.line_no})
        item = get_item(s, ctx, line.item_id)
        received = line.qty * item.split_ratio + line.loose
        asked[r.line_no] = asked.get(r.line_no, 0) + r.qty
        left = received - before.get(id_of(line), 0)
        if asked[r.line_no] > left:
            raise AppError(409, "STOCK", f"第 {r.line_no} 行最多还可退 {left}",
                           f"line {r.line_no}: at most {left} can still go back",
                           {"line_no": r.line_no, "received": received, "returned": before.get(id_of(line), 0),
                            "requested": asked[r.line_no]})
    ret = SupplierReturn(store_id=ctx.store_id, receipt_id=receipt_id, supplier_id=receipt.supplier_id,
                         purc_invo_no=invoice, business_date=ctx.today, reason=reason.strip(),
                         created_by=ctx.actor.user_id, created_at=ctx.now)
    s.add(ret)
    s.flush()
    rows = [SupplierReturnLine(store_id=ctx.store_id, return_id=id_of(ret), receipt_line_id=id_of(by_no[r.line_no]),
                               batch_id=int(by_no[r.line_no].batch_id or 0), qty=r.qty, location=r.location) for r in lines]
    s.add_all(rows)
    s.flush()
    moves = [ledger.Move(row.batch_id, by_no[r.line_no].item_id, MovementKind.PURCHASE_RETURN.value, -r.qty,
                         "supplier_return_line", str(id_of(row)), location=r.location, note=reason.strip(),
                         retail_fen=-ledger.retail_of(get_item(s, ctx, by_no[r.line_no].item_id), r.qty))
             for row, r in zip(rows, lines, strict=True)]
    movements = ledger.append(u, ctx, moves)  # (refused when the batch holds less there: STOCK)
    image: dict[str, Any] = audit.snapshot(ret) | {"lines": [audit.snapshot(r) for r in rows],
                                                   "movements": movements}
    audit.record(u, ctx.store_id, ctx.actor, "supplier_return.create", "supplier_return", id_of(ret), None, image,
                 note=reason.strip())
    return ret


def return_lines(s: Session, return_id: int) -> list[SupplierReturnLine]:
    return list(s.exec(select(SupplierReturnLine).where(SupplierReturnLine.return_id == return_id)
                       .order_by(col(SupplierReturnLine.id))))
