"""Stock in, what issue #19 left: a receipt imported from a supplier's delivery file (随货同行单)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from server.api.deps import CtxDep, guarded, unit_of_work
from server.api.receiving import receipt_out
from server.api.schemas.stock import ReceiptOut
from server.db.uow import orm
from server.errors import AppError
from server.permissions import Action
from server.services.context import Ctx
from server.services.stock import delivery_import

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
