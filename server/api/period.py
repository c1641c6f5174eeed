"""The period close (月结, ST-01): POST /period/close (the store manager), GET /period/closes; POST /period/reopen
answers why not (ST-02). The database's own refusal of a record dated inside a closed period is answered by
server.api.closed_period."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.api.deps import CtxDep, ReadSession, guarded, unit_of_work
from server.api.schemas.period import CloseIn, CloseOut, ReopenIn
from server.db.models.base import id_of
from server.db.uow import orm
from server.permissions import Action
from server.services.period import close

router = APIRouter(prefix="/period", tags=["period close"])


@router.post("/close", response_model=CloseOut, status_code=201, **guarded(Action.PERIOD_CLOSE))
def close_month(body: CloseIn, request: Request, ctx: CtxDep) -> CloseOut:
    with unit_of_work(request) as u:
        close_id = id_of(close.close_month(u, ctx, body.month, body.note))
        done = next(c for c in close.closes(orm(u), ctx.store_id) if c["id"] == close_id)
    return CloseOut.model_validate(done)


@router.post("/reopen", **guarded(Action.PERIOD_CLOSE))
def reopen(body: ReopenIn) -> None:
    close.reopen(body.month)


@router.get("/closes", response_model=list[CloseOut], **guarded(Action.REPORT_READ))
def closes(s: ReadSession, ctx: CtxDep) -> list[CloseOut]:
    return [CloseOut.model_validate(c) for c in close.closes(s, ctx.store_id)]
