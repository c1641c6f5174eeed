"""Stock in, what issue #19 left: a receipt imported from a supplier's delivery file (随货同行单); transfers between
the stores of a chain (调拨出库 / 调拨入库)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from server.api.deps import CtxDep, ReadSession, RowId, get_state, guarded, unit_of_work
from server.api.receiving import receipt_out
from server.api.schemas.stock import ReceiptOut
from server.api.schemas.store import ReasonIn
from server.api.schemas.transfer import TransferIn, TransferOut, TransferReceiveIn
from server.db.models.base import id_of
from server.db.uow import orm, read_session
from server.errors import AppError
from server.permissions import Action
from server.services.context import Ctx
from server.services.stock import delivery_import, transfers

router = APIRouter(tags=["receiving"])

MAX_DELIVERY_BYTES = 5 * 1024 * 1024  # a delivery note of thousands of lines is well under
_FILE_BODY = {"required": True,
              "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def _import(request: Request, ctx: Ctx, supplier_id: int, data: bytes, dynt_no: str, purc_invo_no: str,
            business_date: date | None) -> ReceiptOut:
    with unit_of_work(request) as u:
        r = delivery_import.import_delivery(u, ctx, supplier_id, data, dynt_no, purc_invo_no, business_date)
        return receipt_out(orm(u), r)


@router.post("/receipts/import", response_model=ReceiptOut, status_code=201,
             **guarded(Action.RECEIPT_WRITE, requestBody=_FILE_BODY))
async def import_receipt(request: Request, ctx: CtxDep,
                         supplier_id: Annotated[int, Query(ge=1, le=2_147_483_647)],
                         dynt_no: Annotated[str, Query(max_length=50)] = "",
                         purc_invo_no: Annotated[str, Query(max_length=50)] = "",
                         business_date: date | None = None) -> ReceiptOut:
    """The file (CSV or XLSX) as the request body: a draft receipt, or 422 naming each bad row and column."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_DELIVERY_BYTES:
            raise AppError(413, "IMPORT", "随货同行单文件过大（上限 5 MB）", "the delivery file is larger than 5 MB")
    if not data:
        raise AppError(422, "IMPORT", "随货同行单文件为空", "the uploaded file is empty")
    return await run_in_threadpool(_import, request, ctx, supplier_id, bytes(data), dynt_no, purc_invo_no,
                                   business_date)


# --- transfers between the stores of a chain (调拨) ------------------------------------------------------------------

def _transfer_out(request: Request, ctx: Ctx, transfer_id: int) -> TransferOut:
    with read_session(get_state(request).engine) as s:
        return TransferOut.model_validate(transfers.view(s, transfers.get_transfer(s, ctx, transfer_id)))


@router.post("/transfers", response_model=TransferOut, status_code=201, **guarded(Action.TRANSFER_SEND))
def send_transfer(body: TransferIn, request: Request, ctx: CtxDep) -> TransferOut:
    with unit_of_work(request) as u:
        t = transfers.send(u, ctx, body.to_store_code, [transfers.Send(ln.batch_id, ln.qty) for ln in body.lines],
                           body.note)
    return _transfer_out(request, ctx, id_of(t))


@router.get("/transfers/in-transit", response_model=list[TransferOut], **guarded(Action.STOCK_READ))
def transfers_in_transit(s: ReadSession, ctx: CtxDep) -> list[TransferOut]:
    return [TransferOut.model_validate(t) for t in transfers.in_transit(s, ctx)]


@router.get("/transfers/{transfer_id}", response_model=TransferOut, **guarded(Action.STOCK_READ))
def get_transfer(transfer_id: RowId, s: ReadSession, ctx: CtxDep) -> TransferOut:
    return TransferOut.model_validate(transfers.view(s, transfers.get_transfer(s, ctx, transfer_id)))


@router.post("/transfers/{transfer_id}/receive", response_model=TransferOut, **guarded(Action.RECEIPT_INSPECT))
def receive_transfer(transfer_id: RowId, body: TransferReceiveIn, request: Request, ctx: CtxDep) -> TransferOut:
    with unit_of_work(request) as u:
        transfers.receive(u, ctx, transfer_id, [transfers.Take(v.line_no, v.outcome, v.reason) for v in body.verdicts],
                          body.note)
    return _transfer_out(request, ctx, transfer_id)


@router.post("/transfers/{transfer_id}/lines/{line_no}/release", response_model=TransferOut,
             **guarded(Action.RECEIPT_INSPECT))
def release_transfer_line(transfer_id: RowId, line_no: RowId, body: ReasonIn, request: Request,
                          ctx: CtxDep) -> TransferOut:
    with unit_of_work(request) as u:
        transfers.release(u, ctx, transfer_id, line_no, body.reason)
    return _transfer_out(request, ctx, transfer_id)
