"""The store manager's compliance checklist (issue #22): GET /checklist for a period, GET /checklist/export as PDF or
XLSX for the file (identity numbers masked: the store's own record), GET /checklist/runs for the history of runs;
POST /attestations and /trainings for what no data proves."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from server.api.deps import CtxDep, get_state, guarded
from server.api.reports import period
from server.api.schemas.checklist import (
    AttestationIn,
    AttestationOut,
    ChecklistOut,
    ChecklistRunOut,
    CountdownOut,
    FindingOut,
    TrainingIn,
    TrainingOut,
)
from server.db.models.base import id_of
from server.errors import AppError
from server.permissions import Action
from server.services.compliance import checklist as compliance
from server.services.compliance import export, history

router = APIRouter(tags=["checklist"])


@router.get("/checklist", response_model=ChecklistOut, **guarded(Action.REPORT_READ))
def checklist(request: Request, ctx: CtxDep,
              start: Annotated[date | None, Query(alias="from", description="first day (default: this month)")] = None,
              end: Annotated[date | None, Query(alias="to", description="last day")] = None) -> ChecklistOut:
    """Every CHECK item for the period: 合格 / 不合格 / 需人工确认, evidence, deadlines, what changed since the last run."""
    first, last = period(start, end, ctx.today)
    done = compliance.run(get_state(request).engine, ctx, first, last)
    c = done.checklist
    return ChecklistOut(first=c.first, last=c.last, today=c.today, failed=len(c.failed), previous_at=done.previous_at,
                        changes={no: list(pair) for no, pair in done.changes.items()},
                        findings=[FindingOut(no=f.no, title_zh=f.title_zh, rules=list(f.rules), verdict=f.verdict.value,
                                             verdict_zh=f.verdict.label, summary_zh=f.summary_zh,
                                             summary_en=f.summary_en, evidence=list(f.evidence), count=f.count,
                                             missing=f.missing,
                                             countdowns=[CountdownOut(what_zh=x.what_zh, due=x.due,
                                                                      days_left=x.days_left) for x in f.countdowns])
                                  for f in c.findings])


_MEDIA = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/checklist/export", **guarded(Action.REPORT_READ),
            responses={200: {"description": "the checklist's file", "content": {m: {} for m in _MEDIA.values()}}})
def checklist_file(request: Request, ctx: CtxDep,
                   start: Annotated[date | None, Query(alias="from", description="first day (default: this month)")]
                   = None,
                   end: Annotated[date | None, Query(alias="to", description="last day")] = None,
                   format: Annotated[Literal["pdf", "xlsx"], Query()] = "pdf") -> Response:
    """The checklist run now for the period (recorded as any run) as a PDF or XLSX for the store's file: each item's
    verdict, evidence and rule IDs, the deadlines, the attestations on record, the signature lines."""
    first, last = period(start, end, ctx.today)
    body, _ = export.export(get_state(request).engine, ctx, first, last, format)
    name = f"checklist-{first.isoformat()}-{last.isoformat()}.{format}"
    return Response(body, media_type=_MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/checklist/runs", response_model=list[ChecklistRunOut], **guarded(Action.REPORT_READ))
def checklist_runs(request: Request, ctx: CtxDep,
                   start: Annotated[date | None, Query(alias="from", description="only runs of the period starting "
                                                                                 "this day")] = None,
                   end: Annotated[date | None, Query(alias="to", description="only runs of the period ending this "
                                                                             "day")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ChecklistRunOut]:
    """The history of checklist runs, newest first, each with what changed against the run before it of its period."""
    return [ChecklistRunOut(id=r.id, first=r.first, last=r.last, at=r.at, run_by=r.run_by, passed=r.count("pass"),
                            failed=r.count("fail"), manual=r.count("manual"), failed_items=r.failed,
                            verdicts=r.verdicts, changes={no: list(pair) for no, pair in r.changes.items()})
            for r in history.runs(get_state(request).engine, ctx.store_id, start, end, limit)]


@router.post("/attestations", response_model=AttestationOut, status_code=201, **guarded(Action.ATTEST))
def attest(body: AttestationIn, request: Request, ctx: CtxDep) -> AttestationOut:
    try:
        photo = base64.b64decode(body.photo_b64, validate=False) if body.photo_b64 else None
    except (binascii.Error, ValueError) as exc:
        raise AppError(422, "VALIDATION", "照片不是有效的 base64", "photo_b64 is not valid base64",
                       {"field": "photo_b64"}) from exc
    row = compliance.attest(get_state(request).engine, ctx, body.topic, body.note, photo)
    return AttestationOut(id=id_of(row), topic=row.topic, business_date=row.business_date, valid_until=row.valid_until,
                          note=row.note)


@router.post("/trainings", response_model=TrainingOut, status_code=201, **guarded(Action.ATTEST))
def training(body: TrainingIn, request: Request, ctx: CtxDep) -> TrainingOut:
    row = compliance.record_training(get_state(request).engine, ctx, body.held_on, body.topic, body.trainer,
                                     body.attendees)
    return TrainingOut(id=id_of(row), held_on=row.held_on, topic=row.topic, trainer=row.trainer,
                       attendees=list(row.attendees))
