"""The period close (月结, ST-01): POST /period/close (the store manager), GET /period/closes; POST /period/reopen
answers why not (ST-02). `install` also turns the database's refusal of a record dated inside a closed period
(migration 0024's triggers, reached where no use case asked first) into the same 409 the service gives."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

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


_LOCKED = "inside a closed period"


async def _closed_period(request: Request, exc: Exception) -> JSONResponse:
    text = str(getattr(exc, "orig", exc))
    if _LOCKED not in text:
        raise exc
    return JSONResponse(status_code=409, content={
        "code": "ST-02", "message_zh": "日期在已月结期间内，不得记入；更正请记入当前期间",
        "message_en": "a record cannot be dated inside a closed period: a correction goes into the open period",
        "details": {}})


def install_handler(app: FastAPI) -> None:
    """A write dated inside a closed period, refused by the database's guard, answered as ST-02's 409."""
    app.add_exception_handler(DBAPIError, _closed_period)
