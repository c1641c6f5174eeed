"""The month-end reports (issue #20), read-only over the ledger: GET /reports/ledger, the 进销存 of a period as JSON,
XLSX, CSV or PDF (for the manager and the 医保 administrator: Action.REPORT_READ)."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from reports import collector, ledger
from reports.layout import configured
from server.api.deps import CtxDep, get_state, guarded
from server.api.schemas.common import in_era
from server.errors import AppError
from server.permissions import Action

router = APIRouter(prefix="/reports", tags=["reports"])

MAX_DAYS = 3 * 366  # a report spans at most three years: a longer one is a mistake, not a request

_MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
          "pdf": "application/pdf"}


class ReportJSON(JSONResponse):
    """A report's JSON, rendered where the route runs (a worker thread), not on the event loop: FastAPI encodes a
    plain return value (jsonable_encoder, then json.dumps) on the loop, and a year's statement took it for
    seconds, while every till's scan waited. The same text as FastAPI's: what json.dumps cannot take (a date)
    goes through jsonable_encoder."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"),
                          default=jsonable_encoder).encode("utf-8")


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for: the month of today when neither end is given, either end alone the month it is in."""
    in_era(**{"from": start, "to": end})
    if start is None and end is None:
        return ledger.month_of(today)
    if start is None or end is None:
        first, last = ledger.month_of(start or end)  # type: ignore[arg-type]
        return start or first, end or last
    if end < start:
        raise AppError(422, "VALIDATION", "报表期间的截止日期早于起始日期", "the period ends before it starts",
                       {"from": start.isoformat(), "to": end.isoformat()})
    if (end - start).days > MAX_DAYS:
        raise AppError(422, "VALIDATION", "报表期间最长三年", "a report spans at most three years",
                       {"from": start.isoformat(), "to": end.isoformat()})
    return start, end


@router.get("/ledger", **guarded(Action.REPORT_READ),
            responses={200: {"description": "the report (JSON), or its file with ?format=xlsx|csv|pdf",
                             "content": {"application/json": {}, _MEDIA["xlsx"]: {}, "text/csv": {},
                                         "application/pdf": {}}}})
def ledger_report(request: Request, ctx: CtxDep,
                  start: Annotated[date | None, Query(alias="from", description="first business date (default: "
                                                      "this month's first)")] = None,
                  end: Annotated[date | None, Query(alias="to", description="last business date")] = None,
                  format: Annotated[Literal["json", "xlsx", "csv", "pdf"], Query()] = "json") -> Any:
    """进销存 (ST-01): per item × batch and per item, opening, in and out by type, closing, totals by GSP class and
    医保 category, and the inspector's checks."""
    first, last = period(start, end, ctx.today)
    with collector.paused():  # the report and its answer (reports.collector says why)
        return _ledger(request, ctx, first, last, format)


def _ledger(request: Request, ctx: CtxDep, first: date, last: date, format: str) -> Any:
    report = ledger.ledger_report(get_state(request).engine, ctx.store_id, first, last,
                                  configured(ctx.settings.reports.ledger_layout))
    if format == "json":
        return ReportJSON(ledger.as_dict(report))
    # Imported here: openpyxl (and lxml) cost the service's start what only an export needs
    # (tests/server/test_start_up.py holds the start to that).
    from reports.export import csv as csv_export
    from reports.export import xlsx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"jxc.{format}"
        if format == "pdf":
            from server.api.documents import ledger_pdf

            ledger_pdf(report, path, ctx)
        else:
            (xlsx.write if format == "xlsx" else csv_export.write)(report, path)
        body = path.read_bytes()
    name = f"jxc-{first.isoformat()}-{last.isoformat()}.{format}"
    return Response(body, media_type=_MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})
