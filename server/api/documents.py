"""Printable documents as PDF (issues #19, #20): a receipt with its 验收 record, a count sheet to count on and a
count's result, a loss or destruction record — for whoever may read stock (Action.STOCK_READ, as the documents'
JSON is). The 进销存's PDF is GET /reports/ledger?format=pdf; `ledger_pdf` is shared with it.

Every copy printed is kept as issued (server.services.stock.issued): POST /documents/verify checks a presented file
byte for byte, or a paper copy's 核验码, against the copies kept; GET /documents/{id}/pdf gives a kept copy back."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.api.deps import CtxDep, ReadSession, RowId, get_state, guarded
from server.api.schemas.documents import IssuedOut, VerifyIn
from server.errors import AppError
from server.permissions import Action
from server.services.context import Ctx
from server.services.stock import issued

if TYPE_CHECKING:
    from reports.ledger import LedgerReport

router = APIRouter(tags=["documents"])
_PDF: dict[int | str, dict[str, Any]] = {200: {
    "description": "the document as PDF (A4, Chinese); its 核验码 in X-Document-Fingerprint",
    "content": {"application/pdf": {}}, "headers": {"X-Document-Fingerprint": {"schema": {"type": "string"}}}}}


def font_missing(exc: Exception) -> AppError:
    """No CJK font on the server: a PDF of boxes is never sent; the message says which package to install."""
    return AppError(503, "FONT", getattr(exc, "message_zh", str(exc)), getattr(exc, "message_en", str(exc)))


def ledger_pdf(report: LedgerReport, path: Path, ctx: Ctx) -> Path:
    from reports.export import fonts, pdf

    try:
        return pdf.write(report, path, ctx.settings.store.name, ctx.now, ctx.settings.store.tz)
    except fonts.FontMissing as exc:
        raise font_missing(exc) from exc


def _send(kind: str, ref_id: int, request: Request, ctx: Ctx) -> Response:
    """The document printed now, and the copy kept (issued_document); its 核验码 (a digest of what it says) in
    X-Document-Fingerprint, the kept copy's id in X-Document-Copy."""
    from reports.export import fonts

    try:
        copy = issued.issue(get_state(request).engine, ctx, kind, ref_id)
    except fonts.FontMissing as exc:
        raise font_missing(exc) from exc
    return Response(copy.content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{copy.file_name}"', "X-Document-Fingerprint": copy.fingerprint,
        "X-Document-Copy": str(copy.id)})


@router.get("/receipts/{receipt_id}/pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def receipt_pdf(receipt_id: RowId, request: Request, ctx: CtxDep) -> Response:
    """入库验收单: the delivery, each line's 验收 outcome, the inspector and the approver. The copy is kept."""
    return _send("receipt", receipt_id, request, ctx)


@router.get("/counts/{sheet_id}/sheet.pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def count_sheet_pdf(sheet_id: RowId, request: Request, ctx: CtxDep) -> Response:
    """盘点表 to count on: no book quantities, a blank for each count. The copy is kept."""
    return _send("count_sheet", sheet_id, request, ctx)


@router.get("/counts/{sheet_id}/result.pdf", response_class=Response,
            responses=_PDF | {409: {"description": "a blind sheet not yet handed in (ST-02)"}},
            **guarded(Action.STOCK_READ))
def count_result_pdf(sheet_id: RowId, request: Request, ctx: CtxDep) -> Response:
    """盘点结果: book, counted, variance with its reason and cost, who counted, submitted and posted. Kept."""
    return _send("count_result", sheet_id, request, ctx)


@router.get("/losses/{loss_id}/pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def loss_pdf(loss_id: RowId, request: Request, ctx: CtxDep) -> Response:
    """报损单 / 销毁记录: the lines at cost, the reason, the method and the two witnesses. The copy is kept."""
    return _send("loss", loss_id, request, ctx)


@router.post("/documents/verify", response_model=list[IssuedOut], **guarded(Action.STOCK_READ),
             responses={409: {"description": "the file matches no kept copy: altered, or not issued here (ST-02)"},
                        404: {"description": "no document was issued with this 核验码"}})
def verify_document(body: VerifyIn, s: ReadSession, ctx: CtxDep) -> list[IssuedOut]:
    """A presented PDF (base64) checked byte for byte against the copies kept, or a paper copy's 核验码 looked up:
    the kept copies it is, and whether the document still reads the same today (`current`)."""
    if body.content_b64:
        try:
            content = base64.b64decode(body.content_b64, validate=True)
        except ValueError:  # binascii.Error, or a character outside ASCII
            raise AppError(422, "VALIDATION", "文件内容不是有效的 base64", "content_b64 is not valid base64") from None
        return [IssuedOut.model_validate(issued.verify_file(s, ctx, content).describe())]
    if body.code:
        return [IssuedOut.model_validate(c.describe()) for c in issued.verify_code(s, ctx, body.code)]
    raise AppError(422, "VALIDATION", "请给出核验码或单据文件", "give a 核验码 (code) or the file (content_b64)")


@router.get("/documents/{doc_id}/pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def kept_copy(doc_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    """A kept copy as it was issued, byte for byte."""
    copy = issued.kept(s, ctx, doc_id)
    return Response(copy.content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{copy.file_name}"', "X-Document-Fingerprint": copy.fingerprint,
        "X-Document-Copy": str(copy.id)})
