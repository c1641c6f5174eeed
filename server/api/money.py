"""Receivables and the reserve (ST-05, ST-07), the working-day calendar, and the reports handed in (ST-04).

The 医保 administrator declares, records payments, write-offs and the year-end assessment; the manager reads. A
report's file travels as base64 and comes back as the bytes kept, re-verified against their SHA-256 on every read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from catalog.violations import Violation
from server.api.deps import CtxDep, ReadSession, RowId, get_state, guarded, unit_of_work
from server.api.schemas.money import (
    FIRST_DAY,
    LAST_DAY,
    AssessmentIn,
    CalendarDayIn,
    DecisionIn,
    DeclareIn,
    PaymentIn,
    SubmissionFileIn,
    SubmissionIn,
    WriteOffIn,
)
from server.db.models.base import id_of
from server.db.uow import orm
from server.errors import refused
from server.permissions import Action
from server.services.insurance import calendar, declarations, receivables
from server.services.store import submissions

router = APIRouter(tags=["receivables and submissions"])

Year = Annotated[int | None, Query(ge=2000, le=2100)]
PathDay = Annotated[date, Path(ge=FIRST_DAY, le=LAST_DAY)]
QueryDay = Annotated[date, Query(ge=FIRST_DAY, le=LAST_DAY)]


@router.get("/calendar", **guarded(Action.RECEIVABLE_READ))
def list_calendar(s: ReadSession, ctx: CtxDep, year: Year = None) -> list[dict[str, Any]]:
    return [d.model_dump() for d in calendar.days(s, ctx, year)]


@router.put("/calendar/{day}", **guarded(Action.CALENDAR_WRITE))
def set_calendar_day(day: PathDay, body: CalendarDayIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        return calendar.set_day(u, ctx, day, body.kind, body.name).model_dump()


@router.delete("/calendar/{day}", status_code=204, **guarded(Action.CALENDAR_WRITE))
def remove_calendar_day(day: PathDay, request: Request, ctx: CtxDep) -> Response:
    with unit_of_work(request) as u:
        calendar.remove_day(u, ctx, day)
    return Response(status_code=204)


@router.get("/declarations/preview", **guarded(Action.RECEIVABLE_READ))
def preview_declaration(s: ReadSession, ctx: CtxDep, period_start: QueryDay) -> dict[str, Any]:
    """What a declaration of the period would say, derived now (nothing written)."""
    period = declarations.period_at(ctx, period_start)
    if period is None:
        raise refused([Violation("ST-05", "申报期间须为一个完整的结算周期", "a declaration covers one whole statement period")])
    return asdict(declarations.derive(s, ctx, period)) | {"period_label": period.label}


@router.post("/declarations", status_code=201, **guarded(Action.RECEIVABLE_WRITE))
def declare(body: DeclareIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        row = declarations.declare(u, ctx, body.period_start)
        return receivables.history(orm(u), ctx, id_of(row))


@router.get("/declarations/{declaration_id}", **guarded(Action.RECEIVABLE_READ))
def get_declaration(declaration_id: RowId, s: ReadSession, ctx: CtxDep) -> dict[str, Any]:
    return receivables.history(s, ctx, declaration_id)


@router.post("/declarations/{declaration_id}/payments", status_code=201, **guarded(Action.RECEIVABLE_WRITE))
def record_payment(declaration_id: RowId, body: PaymentIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        receivables.record_payment(u, ctx, declaration_id, body.amount_fen, body.received_on, body.reference,
                                   body.part, body.note)
        return receivables.history(orm(u), ctx, declaration_id)


@router.post("/declarations/{declaration_id}/write-offs", status_code=201, **guarded(Action.RECEIVABLE_WRITE))
def write_off(declaration_id: RowId, body: WriteOffIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        receivables.write_off(u, ctx, declaration_id, body.kind, body.amount_fen, body.reason, body.written_on,
                              body.reference)
        return receivables.history(orm(u), ctx, declaration_id)


@router.post("/reserve-assessments", status_code=201, **guarded(Action.RECEIVABLE_WRITE))
def assess(body: AssessmentIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        row = receivables.assess(u, ctx, body.year, body.deducted_fen, body.reason, body.reference)
        return row.model_dump() | {"deposit": asdict(receivables.deposit(orm(u), ctx, body.year))}


@router.get("/receivables", **guarded(Action.RECEIVABLE_READ))
def receivables_view(s: ReadSession, ctx: CtxDep, year: Year = None) -> dict[str, Any]:
    return receivables.view(s, ctx, year)


# --- reports handed in (ST-04) -----------------------------------------------------------------------------------

def _bytes(b64: str) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise refused([Violation("VALIDATION", "文件须为 base64 编码", "the file must be base64")]) from None


@router.get("/submissions", **guarded(Action.REPORT_READ))
def list_submissions(s: ReadSession, ctx: CtxDep, kind: str | None = None, year: Year = None) -> list[dict[str, Any]]:
    return [submissions.describe(r) for r in submissions.listing(s, ctx, kind, year)]


@router.get("/submissions/board", **guarded(Action.REPORT_READ))
def submission_board(s: ReadSession, ctx: CtxDep, kind: str | None = None, year: Year = None) -> dict[str, Any]:
    """Every report's periods, due dates and statuses; the overdue ones flagged; unset deadlines named."""
    board = submissions.board(s, ctx, year, kind)
    return {"today": ctx.today, "reports": board.rows, "overdue": [r for r in board.rows if r["overdue"]],
            "unset": [v.as_dict() for v in board.unset]}


@router.post("/submissions", status_code=201, **guarded(Action.SUBMISSION_WRITE))
def draft_submission(body: SubmissionIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    """A draft with the file given, or — for the 进销存 with none given — the period's XLSX made from the ledger."""
    name, content = body.file_name, _bytes(body.content_b64)
    if not content and body.kind == "ledger" and body.previous_id is None and body.period_start is not None:
        made, content = submissions.ledger_file(get_state(request).engine, ctx, body.period_start)
        name = name or made
    with unit_of_work(request) as u:
        return submissions.describe(submissions.draft(u, ctx, body.kind or "", body.period_start, name,
                                                      content, body.previous_id))


@router.get("/submissions/{submission_id}", **guarded(Action.REPORT_READ))
def get_submission(submission_id: RowId, s: ReadSession, ctx: CtxDep) -> dict[str, Any]:
    return submissions.describe(submissions.get(s, ctx, submission_id))


@router.get("/submissions/{submission_id}/file", **guarded(Action.REPORT_READ), response_class=Response,
            responses={200: {"description": "the file as submitted, its SHA-256 re-verified",
                             "content": {"application/octet-stream": {}}}})
def submission_file(submission_id: RowId, s: ReadSession, ctx: CtxDep) -> Response:
    row = submissions.get(s, ctx, submission_id)
    body = submissions.checked(row)
    return Response(body, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="submission-{submission_id}"',
                             "X-Content-SHA256": row.sha256})


@router.put("/submissions/{submission_id}/file", **guarded(Action.SUBMISSION_WRITE))
def replace_file(submission_id: RowId, body: SubmissionFileIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    content = _bytes(body.content_b64)
    with unit_of_work(request) as u:
        return submissions.describe(submissions.replace_draft(u, ctx, submission_id, body.file_name, content))


@router.post("/submissions/{submission_id}/submit", **guarded(Action.SUBMISSION_WRITE))
def submit(submission_id: RowId, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        return submissions.describe(submissions.submit(u, ctx, submission_id))


@router.post("/submissions/{submission_id}/decision", **guarded(Action.SUBMISSION_WRITE))
def decide(submission_id: RowId, body: DecisionIn, request: Request, ctx: CtxDep) -> dict[str, Any]:
    with unit_of_work(request) as u:
        return submissions.describe(submissions.decide(u, ctx, submission_id, body.accepted, body.reason,
                                                       body.agency_ref))
