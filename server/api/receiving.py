"""Receiving (采购入库, GSP-05) and the first inventory: enter, inspect (验收), approve; and 首营 approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlmodel import Session, col, select

from server.api.deps import CtxDep, ReadSession, RowId, guarded, unit_of_work
from server.api.schemas.stock import (
    FirstInventoryIn,
    InspectionIn,
    NoteIn,
    ReceiptIn,
    ReceiptLineOut,
    ReceiptOut,
    SupplierItemOut,
    SupplierReturnIn,
    SupplierReturnLineOut,
    SupplierReturnOut,
    TraceCodeCheckIn,
    TraceCodeCheckOut,
)
from server.api.schemas.store import ReasonIn
from server.db.models import Receipt, ReceiptTraceCode
from server.db.models.base import id_of
from server.db.uow import orm
from server.permissions import Action
from server.services.context import Ctx
from server.services.stock import receiving, supplier_returns
from server.services.stock import suppliers as supplier_service

router = APIRouter(tags=["receiving"])


def receipt_out(s: Session, r: Receipt) -> ReceiptOut:
    lines = receiving.lines_of(s, id_of(r))
    codes: dict[int, list[str]] = {}
    if lines:
        for c in s.exec(select(ReceiptTraceCode).where(col(ReceiptTraceCode.line_id).in_([id_of(x) for x in lines]))
                        .order_by(col(ReceiptTraceCode.id))):
            codes.setdefault(c.line_id, []).append(c.code)
    return ReceiptOut.model_validate(r.model_dump() | {"lines": [
        ReceiptLineOut.model_validate(ln.model_dump() | {"trace_codes": codes.get(id_of(ln), [])}) for ln in lines]})


def _lines(s: Session, ctx: Ctx, body: ReceiptIn | FirstInventoryIn) -> list[receiving.LineIn]:
    return [receiving.LineIn(**ln.model_dump(exclude={"item_id", "barcode"}),
                             item_id=ln.item_id if ln.item_id is not None else receiving.scanned(s, ctx, ln.barcode or ""))
            for ln in body.lines]


@router.post("/suppliers/{supplier_id}/approve", response_model=None, **guarded(Action.SUPPLIER_WRITE))
def approve_supplier(supplier_id: RowId, body: NoteIn, request: Request, ctx: CtxDep) -> dict[str, object]:
    with unit_of_work(request) as u:
        sup = supplier_service.approve_supplier(u, ctx, supplier_id, body.note)
        return {"id": sup.id, "first_approved_by": sup.first_approved_by, "first_approved_at": sup.first_approved_at}


@router.post("/suppliers/{supplier_id}/items/{item_id}/approve", response_model=SupplierItemOut, status_code=201,
             **guarded(Action.SUPPLIER_WRITE))
def approve_item(supplier_id: RowId, item_id: RowId, body: NoteIn, request: Request, ctx: CtxDep) -> SupplierItemOut:
    with unit_of_work(request) as u:
        row = supplier_service.approve_item(u, ctx, supplier_id, item_id, body.note)
        return SupplierItemOut.model_validate(row.model_dump())


@router.get("/receipts", response_model=list[ReceiptOut], **guarded(Action.STOCK_READ))
def list_receipts(s: ReadSession, ctx: CtxDep, status: str | None = None,
                  latest: Annotated[int | None, Query(ge=1, le=10_000)] = None,
                  item_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
                  trace_code: Annotated[str | None, Query(min_length=1, max_length=64)] = None) -> list[ReceiptOut]:
    """Receipts of a status, the latest so many, with a line of an item, or the one a 追溯码 came in on."""
    return [receipt_out(s, r) for r in receiving.list_receipts(s, ctx, status, latest, item_id, trace_code)]


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut, **guarded(Action.STOCK_READ))
def get_receipt(receipt_id: RowId, s: ReadSession, ctx: CtxDep) -> ReceiptOut:
    return receipt_out(s, receiving.get_receipt(s, ctx, receipt_id))


@router.post("/receipts", response_model=ReceiptOut, status_code=201, **guarded(Action.RECEIPT_WRITE))
def create_receipt(body: ReceiptIn, request: Request, ctx: CtxDep) -> ReceiptOut:
    with unit_of_work(request) as u:
        r = receiving.create(u, ctx, receiving.PURCHASE, body.supplier_id, body.dynt_no, body.purc_invo_no,
                             _lines(orm(u), ctx, body), body.business_date, body.note)
        return receipt_out(orm(u), r)


@router.post("/receipts/trace-codes/check", response_model=TraceCodeCheckOut, **guarded(Action.RECEIPT_WRITE))
def check_trace_code(body: TraceCodeCheckIn, s: ReadSession, ctx: CtxDep) -> TraceCodeCheckOut:
    """追溯码 scanned at receipt, checked before the receipt is saved (its form, twice on this receipt, received
    before): the checks POST /receipts makes again with the lines' codes. Writes nothing."""
    return TraceCodeCheckOut(code=receiving.check_scanned_trace_code(s, ctx, body.code, body.scanned))


@router.post("/first-inventory", response_model=ReceiptOut, status_code=201, **guarded(Action.RECEIPT_WRITE))
def create_first_inventory(body: FirstInventoryIn, request: Request, ctx: CtxDep) -> ReceiptOut:
    with unit_of_work(request) as u:
        r = receiving.create(u, ctx, receiving.OPENING, None, "", "", _lines(orm(u), ctx, body), body.business_date, body.note)
        return receipt_out(orm(u), r)


@router.post("/receipts/{receipt_id}/inspection", response_model=ReceiptOut, **guarded(Action.RECEIPT_INSPECT))
def inspect_receipt(receipt_id: RowId, body: InspectionIn, request: Request, ctx: CtxDep) -> ReceiptOut:
    with unit_of_work(request) as u:
        verdicts = [receiving.Verdict(v.line_no, v.outcome, v.reason) for v in body.verdicts]
        return receipt_out(orm(u), receiving.inspect(u, ctx, receipt_id, verdicts, body.note))


@router.post("/receipts/{receipt_id}/approve", response_model=ReceiptOut, **guarded(Action.BATCH_WRITE))
def approve_receipt(receipt_id: RowId, body: NoteIn, request: Request, ctx: CtxDep) -> ReceiptOut:
    with unit_of_work(request) as u:
        return receipt_out(orm(u), receiving.approve(u, ctx, receipt_id, body.note))


@router.post("/receipts/{receipt_id}/lines/{line_no}/release", response_model=ReceiptOut,
             **guarded(Action.RECEIPT_INSPECT))
def release_line(receipt_id: RowId, line_no: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> ReceiptOut:
    """待验放行: a line held in quarantine, fit on re-inspection, to the shelf."""
    with unit_of_work(request) as u:
        receiving.release(u, ctx, receipt_id, line_no, body.reason)
        return receipt_out(orm(u), receiving.get_receipt(orm(u), ctx, receipt_id))


@router.post("/receipts/{receipt_id}/returns", response_model=SupplierReturnOut, status_code=201,
             **guarded(Action.BATCH_WRITE))
def return_to_supplier(receipt_id: RowId, body: SupplierReturnIn, request: Request, ctx: CtxDep) -> SupplierReturnOut:
    """购进退出: goods of an approved delivery back to its supplier, by line, from the shelf or quarantine."""
    with unit_of_work(request) as u:
        ret = supplier_returns.return_to_supplier(
            u, ctx, receipt_id, [supplier_returns.ReturnLine(x.line_no, x.qty, x.location) for x in body.lines],
            body.reason, body.purc_invo_no)
        rows = supplier_returns.return_lines(orm(u), id_of(ret))
        return SupplierReturnOut.model_validate(ret.model_dump() | {
            "lines": [SupplierReturnLineOut.model_validate(r.model_dump()) for r in rows]})
