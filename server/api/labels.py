"""Shelf labels (药品标签 / 价签, GSP-04): POST /labels/runs prints from the catalog (refused whole when a 医保
drug's label would carry no mark), GET /labels/runs/{id}/pdf the sheet, POST /labels/runs/{id}/reprint the same
labels again (refused when the catalog changed since), GET /labels/stale what on the shelf no longer holds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.api.deps import CtxDep, ReadSession, RowId, Who, guarded, unit_of_work
from server.api.documents import font_missing
from server.api.schemas.labels import LabelOut, LabelPrintIn, LabelRunOut, StaleLabelOut
from server.db.models.base import id_of
from server.errors import AppError
from server.permissions import Action
from server.rules.labels import Template, class_mark, insurance_mark
from server.services.catalog import labels

router = APIRouter(tags=["labels"])
_PDF: dict[int | str, dict[str, Any]] = {200: {"description": "the label sheet as PDF (A4)",
                                               "content": {"application/pdf": {}}}}


def _out(done: labels.Printed, queued_on: str | None = None) -> LabelRunOut:
    r = done.run
    return LabelRunOut(id=id_of(r), queued_on=queued_on, printed_at=r.printed_at, business_date=r.business_date, selection=r.selection,
                       zone_code=r.zone_code, template=r.template,
                       labels=[LabelOut(item_id=f.item_id, code=f.code, name=f.name, spec=f.spec,
                                        manufacturer=f.manufacturer, unit=f.unit, price_fen=f.price_fen,
                                        barcode=f.barcode, class_mark=class_mark(f.gsp_class),
                                        insurance_mark=insurance_mark(f), zone_code=f.zone_code)
                               for f in done.labels])


@router.post("/labels/runs", response_model=LabelRunOut, status_code=201, **guarded(Action.LABEL_PRINT))
def print_labels(body: LabelPrintIn, request: Request, ctx: CtxDep, who: Who) -> LabelRunOut:
    """Labels for some items, a zone, or what changed since the last print, from the catalog; recorded; queued
    on the caller's till's receipt printer when asked."""
    till = who.till_code if body.to_printer else None
    if body.to_printer and not till:
        raise AppError(422, "VALIDATION", "未在收款台登录，无法用小票打印机打印价签",
                       "not signed in at a till: no receipt printer to print the labels on", {})
    with unit_of_work(request) as u:
        done = labels.print_labels(u, ctx, labels.Selection(body.selection), Template(body.template),
                                   body.item_ids, body.zone_code, till)
    return _out(done, till)


@router.post("/labels/runs/{run_id}/reprint", response_model=LabelRunOut, status_code=201,
             **guarded(Action.LABEL_PRINT))
def reprint(run_id: RowId, request: Request, ctx: CtxDep) -> LabelRunOut:
    """An earlier run's labels again (a torn or lost label) — only while the catalog still says what they say."""
    with unit_of_work(request) as u:
        done = labels.reprint_run(u, ctx, run_id)
    return _out(done)


@router.get("/labels/runs/{run_id}/pdf", response_class=Response, responses=_PDF, **guarded(Action.LABEL_PRINT))
def run_pdf(run_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    """The run's sheet as it was printed (its own record; printing it again is POST …/reprint)."""
    from reports.export import fonts, labels_pdf

    done = labels.run_labels(s, ctx, run_id)
    try:
        body = labels_pdf.write(done.labels, Template(done.run.template), done.run.business_date)
    except fonts.FontMissing as exc:
        raise font_missing(exc) from exc
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="labels-{run_id}.pdf"'})


@router.get("/labels/stale", response_model=list[StaleLabelOut], **guarded(Action.CATALOG_READ))
def stale(s: ReadSession, ctx: CtxDep) -> list[StaleLabelOut]:
    """The labels on the shelf (each item's last) that no longer say what the catalog says."""
    return [StaleLabelOut(item_id=x.printed.item_id, code=x.printed.code, name=x.printed.name, run_id=x.run_id,
                          changed=x.fields, printed_price_fen=x.printed.price_fen,
                          price_fen=x.now.price_fen if x.now else None) for x in labels.stale(s, ctx)]
