"""The store manager's compliance checklist (issue #22): GET /checklist for a period; POST /attestations and
/trainings for what no data proves."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from server.api.deps import CtxDep, get_state, guarded
from server.api.reports import period
from server.api.schemas.checklist import (
    AttestationIn,
    AttestationOut,
    ChecklistOut,
    CountdownOut,
    FindingOut,
    TrainingIn,
    TrainingOut,
)
from server.db.models.base import id_of
from server.errors import AppError
from server.permissions import Action
from server.services.compliance import checklist as compliance

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
