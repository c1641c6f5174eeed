"""Printable documents as PDF (issues #19, #20): a receipt with its 验收 record, a count sheet to count on and a
count's result, a loss or destruction record — for whoever may read stock (Action.STOCK_READ, as the documents'
JSON is). The 进销存's PDF is GET /reports/ledger?format=pdf; `ledger_pdf` is shared with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import Response

from server.api.deps import CtxDep, ReadSession, RowId, guarded
from server.errors import AppError
from server.permissions import Action
from server.services.context import Ctx
from server.services.stock import documents

if TYPE_CHECKING:
    from reports.export.pdf_doc import Document
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


def _send(facts: Any, render: Callable[..., Document], name: str, ctx: Ctx) -> Response:
    """The document printed now; its 核验码 (a digest of what it says) in X-Document-Fingerprint too."""
    from reports.documents import fingerprint
    from reports.export import fonts

    try:
        body = render(facts, ctx.settings.store.name, ctx.now, ctx.settings.store.tz).bytes()
    except fonts.FontMissing as exc:
        raise font_missing(exc) from exc
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}"', "X-Document-Fingerprint": fingerprint(facts)})


@router.get("/receipts/{receipt_id}/pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def receipt_pdf(receipt_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    """入库验收单: the delivery, each line's 验收 outcome, the inspector and the approver."""
    from reports.export import stock_pdf

    return _send(documents.receipt_doc(s, ctx, receipt_id), stock_pdf.receipt, f"receipt-{receipt_id}.pdf", ctx)


@router.get("/counts/{sheet_id}/sheet.pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def count_sheet_pdf(sheet_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    """盘点表 to count on: no book quantities, a blank for each count."""
    from reports.export import stock_pdf

    return _send(documents.count_doc(s, ctx, sheet_id, result=False), stock_pdf.count_sheet,
                 f"count-sheet-{sheet_id}.pdf", ctx)


@router.get("/counts/{sheet_id}/result.pdf", response_class=Response,
            responses=_PDF | {409: {"description": "a blind sheet not yet handed in (ST-02)"}},
            **guarded(Action.STOCK_READ))
def count_result_pdf(sheet_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    """盘点结果: book, counted, variance with its reason and cost, who counted, submitted and posted."""
    from reports.export import stock_pdf

    return _send(documents.count_doc(s, ctx, sheet_id, result=True), stock_pdf.count_result,
                 f"count-result-{sheet_id}.pdf", ctx)


@router.get("/losses/{loss_id}/pdf", response_class=Response, responses=_PDF, **guarded(Action.STOCK_READ))
def loss_pdf(loss_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    """报损单 / 销毁记录: the lines at cost, the reason, the method and the two witnesses."""
    from reports.export import stock_pdf

    return _send(documents.loss_doc(s, ctx, loss_id), stock_pdf.loss, f"loss-{loss_id}.pdf", ctx)
