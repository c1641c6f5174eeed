"""The card-purchase statement (ST-03) and the 外配处方 statement (RX-09), read-only over the ledger:
GET /reports/card-statement and /reports/rx-statement as JSON, XLSX, CSV or PDF with identity numbers masked (the manager
and the 医保 administrator: Action.REPORT_READ); GET /reports/card-statement/agency, the file for the agency with
identity numbers whole (the 医保 administrator only: Action.REPORT_AGENCY_EXPORT), audited before it is handed over.

The period: `from`/`to` (any range), or, with neither, the statement period (`[rules] statement_period`: monthly,
bimonthly, quarterly) that today is in — or the one before it with `period=previous`."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from reports import card_statement, collector, rx_statement
from server.api.deps import CtxDep, get_state, guarded
from server.api.reports import ReportJSON
from server.api.reports import period as ranged
from server.api.schemas.common import in_era
from server.errors import AppError
from server.permissions import Action
from server.services import agency_export
from server.services.context import Ctx

router = APIRouter(prefix="/reports", tags=["reports"])

_MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
          "pdf": "application/pdf"}
_FILES: dict[int | str, dict[str, Any]] = {200: {"description": "the statement (JSON), or its file with "
                                                                "?format=xlsx|csv|pdf",
                "content": {"application/json": {}, _MEDIA["xlsx"]: {}, "text/csv": {}, "application/pdf": {}}}}

From = Annotated[date | None, Query(alias="from", description="first day (default: the statement period's first)")]
To = Annotated[date | None, Query(alias="to", description="last day")]
Which = Annotated[Literal["current", "previous"], Query(description="with no from/to: the statement period today is "
                                                                    "in, or the one before it")]


def statement_period(start: date | None, end: date | None, which: str, ctx: Ctx) -> tuple[date, date]:
    """The period asked for: a range as given (checked as the 进销存's), else the store's statement period."""
    in_era(**{"from": start, "to": end})
    if start is None and end is None:
        setting = ctx.settings.rules.statement_period
        return (card_statement.period_of if which == "current" else card_statement.previous_period)(ctx.today, setting)
    return ranged(start, end, ctx.today)


def card_of(request: Request, ctx: Ctx, start: date | None, end: date | None,
            which: str) -> card_statement.CardStatement:
    first, last = statement_period(start, end, which, ctx)
    return card_statement.card_statement(get_state(request).engine, ctx.store_id, first, last,
                                         ctx.settings.store.tz, ctx.settings.store.admdvs)


def _file(body: bytes, name: str, fmt: str) -> Response:
    return Response(body, media_type=_MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _written(write: Any, fmt: str) -> bytes:
    from reports.export.fonts import FontMissing

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"statement.{fmt}"
        try:
            write(path)
        except FontMissing as exc:  # the machine lacks the CJK font: say which package, never a PDF of boxes
            raise AppError(503, "FONT", exc.message_zh, exc.message_en) from exc
        return path.read_bytes()


def _card_file(st: card_statement.CardStatement, ctx: Ctx, fmt: str, unmasked: bool = False) -> bytes:
    """The statement's file: XLSX or CSV (reports.export.statements), or the PDF for the paper file."""
    if fmt == "pdf":
        from reports.export import card_pdf

        store = ctx.settings.store
        return _written(lambda p: card_pdf.write(st, p, store.name, store.fixmedins_code, ctx.now, store.tz,
                                                 unmasked=unmasked), fmt)
    from reports.export import statements  # openpyxl only when a file is asked for (tests/server/test_start_up.py)

    return _written(lambda p: statements.write_card(st, p, fmt, unmasked=unmasked), fmt)


@router.get("/card-statement", **guarded(Action.REPORT_READ), responses=_FILES)
def card_statement_report(request: Request, ctx: CtxDep, start: From = None, end: To = None,
                          period: Which = "current",
                          format: Annotated[Literal["json", "xlsx", "csv", "pdf"], Query()] = "json") -> Any:
    """刷卡购药结算对账单 (ST-03): one row per settlement (a 2103 its own negative row), subtotals by the clearing
    groups the reconciliation uses, each row dated by the centre's settlement time; identity numbers masked."""
    with collector.paused():  # the statement and its answer (reports.collector says why)
        st = card_of(request, ctx, start, end, period)
        if format == "json":
            return ReportJSON(card_statement.as_dict(st))
        body = _card_file(st, ctx, format)
    return _file(body, f"card-statement-{st.start.isoformat()}-{st.end.isoformat()}.{format}", format)


@router.get("/card-statement/agency", **guarded(Action.REPORT_AGENCY_EXPORT), responses=_FILES)
def card_statement_for_agency(request: Request, ctx: CtxDep, start: From = None, end: To = None,
                              period: Which = "current",
                              format: Annotated[Literal["xlsx", "csv", "pdf"], Query()] = "xlsx") -> Any:
    """The card statement for the agency, identity numbers whole: the 医保 administrator's, audited (who, period,
    rows, the file's SHA-256) before the file is handed over; as a PDF, the paper submission with its signature
    lines."""
    with collector.paused():
        st = card_of(request, ctx, start, end, period)
        body = _card_file(st, ctx, format, unmasked=True)
    agency_export.record(get_state(request).engine, ctx, "card_statement", st.start, st.end, format, body,
                         len(st.rows), card_statement.persons(st), f"GET {request.url.path}")
    return _file(body, f"card-statement-agency-{st.start.isoformat()}-{st.end.isoformat()}.{format}", format)


@router.get("/rx-statement", **guarded(Action.REPORT_READ), responses=_FILES)
def rx_statement_report(request: Request, ctx: CtxDep, start: From = None, end: To = None,
                        period: Which = "current",
                        format: Annotated[Literal["json", "xlsx", "csv", "pdf"], Query()] = "json") -> Any:
    """外配处方费用统计表 (RX-09): one row per 外配处方 dispensed, totals per prescribing institution; the patient's
    identity number masked in every format, the PDF for the submission included (reports.export.rx_pdf says why)."""
    first, last = statement_period(start, end, period, ctx)
    st = rx_statement.rx_statement(get_state(request).engine, ctx.store_id, first, last, ctx.settings.store.tz)
    if format == "json":
        return ReportJSON(rx_statement.as_dict(st))
    if format == "pdf":
        from reports.export import rx_pdf

        store = ctx.settings.store
        body = _written(lambda p: rx_pdf.write(st, p, store.name, store.fixmedins_code, ctx.now, store.tz), format)
    else:
        from reports.export import statements

        body = _written(lambda p: statements.write_rx(st, p, format), format)
    return _file(body, f"rx-statement-{first.isoformat()}-{last.isoformat()}.{format}", format)
