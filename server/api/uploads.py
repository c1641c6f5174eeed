"""The uploads' outbox (3501–3507, ST-06): its state and backlog; a rejected row corrected or derived again from the
corrected catalog (a row the centre took: 3507 and the batch again), rows sent again."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.api.deps import CtxDep, RowId, get_state, guarded, unit_of_work
from server.api.schemas.uploads import (
    CorrectIn,
    CorrectOut,
    RederiveIn,
    RederiveOut,
    RetryIn,
    RetryOut,
    UploadsOut,
)
from server.permissions import Action
from server.services.insurance import uploads

router = APIRouter(tags=["uploads"])


@router.get("/uploads", response_model=UploadsOut, **guarded(Action.INSURANCE_READ))
def upload_status(request: Request, ctx: CtxDep) -> UploadsOut:
    return UploadsOut.model_validate(uploads.status(get_state(request).engine, ctx))


@router.post("/uploads/retry", response_model=RetryOut, **guarded(Action.UPLOADS_WRITE))
def retry_uploads(body: RetryIn, request: Request, ctx: CtxDep) -> RetryOut:
    with unit_of_work(request) as u:
        return RetryOut(requeued=uploads.retry(u, ctx, body.ids))


@router.post("/uploads/{row_id}/correct", response_model=CorrectOut, **guarded(Action.UPLOADS_WRITE))
def correct_upload(row_id: RowId, body: CorrectIn, request: Request, ctx: CtxDep) -> CorrectOut:
    with unit_of_work(request) as u:
        payload = uploads.correct(u, ctx, row_id, dict(body.fields), body.note)
    return CorrectOut(id=row_id, payload=uploads.audit_masked(payload))


@router.post("/uploads/{row_id}/rederive", response_model=RederiveOut, **guarded(Action.UPLOADS_WRITE))
def rederive_upload(row_id: RowId, body: RederiveIn, request: Request, ctx: CtxDep) -> RederiveOut:
    with unit_of_work(request) as u:
        out = uploads.rederive(u, ctx, row_id, body.note)
    return RederiveOut(id=out.row_id, payload=uploads.audit_masked(out.payload), deletion_id=out.deletion_id,
                       resent=list(out.resent))
