"""The printable stock documents' facts (reports.documents), read from the documents the stock wing keeps: a receipt
with its 验收 record, a count sheet (for counting, blind) and its result, a loss or destruction record. Read only;
the costs shown are what the ledger's movements for each line carry, not recomputed.

A count's book is shown only where the sheet itself would show it (counts.view): a blind sheet's book stays
hidden until it is handed in, so its result cannot be printed before then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import Session, col, select

from reports.documents import (
    CountDoc,
    CountLineDoc,
    Goods,
    LossDoc,
    LossLineDoc,
    ReceiptDoc,
    ReceiptLineDoc,
    Signed,
)
from server.db.models import Batch, Item, ReceiptTraceCode, Supplier, User, Zone
from server.db.models.base import id_of
from server.errors import AppError
from server.services.context import Ctx
from server.services.stock import care, counts, ledger, receiving


def _names(s: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {id_of(u): f"{u.display_name}（{u.username}）" for u in s.exec(select(User).where(col(User.id).in_(wanted)))}


def _signed(names: dict[int, str], user_id: int | None, at: datetime | None) -> Signed:
    return Signed(names.get(user_id, "") if user_id is not None else "", at)


def _goods(item: Item, batch: Batch | None, unit: str | None = None) -> Goods:
    return Goods(item.code, item.generic_name or item.name, item.spec, item.manufacturer,
                 unit or (item.split_unit if item.split_ratio > 1 and item.split_unit else item.unit),
                 batch.batch_no if batch else "", batch.lot_no if batch else "", batch.expires_on if batch else None)


def _batches(s: Session, ids: Iterable[int | None]) -> dict[int, Batch]:
    wanted = sorted({i for i in ids if i is not None})
    return {id_of(b): b for b in s.exec(select(Batch).where(col(Batch.id).in_(wanted)))} if wanted else {}


def _items(s: Session, ids: Iterable[int]) -> dict[int, Item]:
    wanted = sorted(set(ids))
    return {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_(wanted)))} if wanted else {}


def _zones(s: Session, ctx: Ctx) -> dict[int, Zone]:
    return {id_of(z): z for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}


def _line_goods(item: Item, batch: Batch | None, lot_no: str, expires_on: date) -> Goods:
    """A receipt line's goods in packs (the delivery's unit), with the batch made at approval when there is one."""
    return Goods(item.code, item.generic_name or item.name, item.spec, item.manufacturer, item.unit,
                 batch.batch_no if batch else "", lot_no, expires_on)


def receipt_doc(s: Session, ctx: Ctx, receipt_id: int) -> ReceiptDoc:
    r = receiving.get_receipt(s, ctx, receipt_id)
    lines = receiving.lines_of(s, receipt_id)
    items = _items(s, (ln.item_id for ln in lines))
    batches = _batches(s, (ln.batch_id for ln in lines))
    zones = _zones(s, ctx)
    codes: dict[int, int] = {}
    if lines:
        for line_id in s.exec(select(ReceiptTraceCode.line_id).where(
                col(ReceiptTraceCode.line_id).in_([id_of(ln) for ln in lines]))):
            codes[line_id] = codes.get(line_id, 0) + 1
    sup = s.get(Supplier, r.supplier_id) if r.supplier_id is not None else None
    names = _names(s, (r.created_by, r.inspected_by, r.approved_by))
    return ReceiptDoc(
        id=receipt_id, kind=r.kind, status=r.status, business_date=r.business_date,
        supplier=sup.name if sup else "", supplier_licence=f"{sup.licence_no}（有效期至 {sup.licence_expiry}）" if sup else "",
        supplier_credit_code=sup.business_licence_no if sup else "", dynt_no=r.dynt_no, purc_invo_no=r.purc_invo_no,
        note=r.note, entered=_signed(names, r.created_by, r.created_at),
        inspected=_signed(names, r.inspected_by, r.inspected_at), approved=_signed(names, r.approved_by, r.approved_at),
        lines=[ReceiptLineDoc(
            ln.line_no, _line_goods(items[ln.item_id], batches.get(ln.batch_id or 0), ln.lot_no, ln.expires_on),
            items[ln.item_id].approval_no, ln.manufactured_on, ln.qty, ln.loose,
            items[ln.item_id].split_unit or items[ln.item_id].unit, ln.unit_cost_fen,
            zones[ln.zone_id].name if ln.zone_id in zones else "", ln.outcome, ln.reason, codes.get(id_of(ln), 0))
            for ln in lines])


def count_doc(s: Session, ctx: Ctx, sheet_id: int, result: bool) -> CountDoc:
    """The sheet for counting (`result` False: no book, no counts — a blind sheet by construction) or its result
    (book, counted, variance, reason, who counted, the posted cost); a blind sheet's result only once handed in."""
    sheet = counts.get_sheet(s, ctx, sheet_id)
    if result and sheet.blind and sheet.status == counts.OPEN:
        raise AppError(409, "ST-02", f"盲盘单 {sheet_id} 提交前不能打印盘点结果（账面数不向盘点人显示）",
                       f"blind count sheet {sheet_id}: its result prints once it is handed in (the book stays "
                       "hidden from the counter)", {"status": sheet.status})
    lines = counts.lines_of(s, sheet_id)
    items = _items(s, (ln.item_id for ln in lines))
    batches = _batches(s, (ln.batch_id for ln in lines))
    names = _names(s, [sheet.created_by, sheet.submitted_by, sheet.posted_by, *(ln.counted_by for ln in lines)])
    moved = ledger.moved_for(s, "count_line", [str(id_of(ln)) for ln in lines]) if result and lines else {}
    zone = "全店"
    if sheet.zone_id is not None:
        z = s.get(Zone, sheet.zone_id)
        zone = f"{z.code} {z.name}" if z else str(sheet.zone_id)
    out = []
    for ln in sorted(lines, key=lambda x: (items[x.item_id].code, batches[x.batch_id].batch_no)):
        mv = moved.get(str(id_of(ln)))
        out.append(CountLineDoc(
            _goods(items[ln.item_id], batches[ln.batch_id]), ln.book_qty if result else None,
            ln.counted_qty if result else None, ln.reason if result else "",
            names.get(ln.counted_by, "") if result and ln.counted_by is not None else "",
            sum(m.cost_fen for m in mv) if mv else (0 if sheet.status == counts.POSTED else None)))
    return CountDoc(sheet_id, zone, sheet.blind, sheet.status, sheet.snapshot_at, sheet.business_date, sheet.note,
                    _signed(names, sheet.created_by, sheet.snapshot_at),
                    _signed(names, sheet.submitted_by, sheet.submitted_at),
                    _signed(names, sheet.posted_by, sheet.posted_at), out)


def loss_doc(s: Session, ctx: Ctx, loss_id: int) -> LossDoc:
    loss = care.get_loss(s, ctx, loss_id)
    lines = care.loss_lines(s, loss_id)
    items = _items(s, (ln.item_id for ln in lines))
    batches = _batches(s, (ln.batch_id for ln in lines))
    moved = ledger.moved_for(s, "loss_line", [str(id_of(ln)) for ln in lines]) if lines else {}
    names = _names(s, (loss.created_by, loss.witness_1, loss.witness_2))
    recall = ""
    if loss.recall_id is not None:
        rc = care.get_recall(s, ctx, loss.recall_id)
        recall = f"#{rc.id} {rc.notice_no}".strip()
    out = []
    for ln in lines:
        mv = moved.get(str(id_of(ln)), [])
        out.append(LossLineDoc(_goods(items[ln.item_id], batches[ln.batch_id]), ln.qty, ln.location,
                               -sum(m.cost_fen for m in mv), -sum(m.retail_fen for m in mv)))
    return LossDoc(loss_id, loss.kind, loss.reason, loss.method, loss.business_date, recall,
                   _signed(names, loss.created_by, loss.created_at),
                   [_signed(names, w, loss.created_at) for w in (loss.witness_1, loss.witness_2) if w is not None],
                   out)
