"""The reconciliation with the centre (ST-07): by day and month, per settlement, what keeps a month open; run a
day or a month (3201, 3202 on 不平), acknowledge a difference, repair by 2601. The 医保 administrator's."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from server.api.deps import CtxDep, RowId, get_state, guarded, second_of, unit_of_work
from server.api.insurance import gateway_of
from server.api.schemas.common import in_era
from server.api.schemas.recon import (
    AckIn,
    AckOut,
    BlockersOut,
    DayGroupOut,
    RepairOut,
    RunOut,
    SettlementStatusOut,
)
from server.auth.grants import Authoriser
from server.db.uow import read_unit
from server.errors import AppError
from server.permissions import Action
from server.services.recon import blockers, reconcile, views
from server.services.store import second_person

router = APIRouter(tags=["reconciliation"])


def _period(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    in_era(first=first, last=last)
    first, last = first or today.replace(day=1), last or today
    if last < first or (last - first).days > 366:
        raise AppError(422, "RECON-PERIOD", "对账期间无效（至多一年）", "the period is invalid (a year at most)")
    return first, last


@router.get("/reconciliation/days", response_model=list[DayGroupOut], **guarded(Action.RECONCILE_READ))
def list_days(request: Request, ctx: CtxDep, first: date | None = None, last: date | None = None) -> Any:
    first, last = _period(first, last, ctx.today)
    with read_unit(get_state(request).engine) as u:
        return views.days(u, ctx, first, last)


@router.get("/reconciliation/settlements", response_model=list[SettlementStatusOut],
            **guarded(Action.RECONCILE_READ))
def list_settlements(request: Request, ctx: CtxDep, first: date | None = None, last: date | None = None) -> Any:
    first, last = _period(first, last, ctx.today)
    with read_unit(get_state(request).engine) as u:
        return views.settlements(u, ctx, first, last)


@router.get("/reconciliation/blockers", response_model=BlockersOut, **guarded(Action.RECONCILE_READ))
def month_blockers(request: Request, ctx: CtxDep, month: str = "") -> Any:
    first, last = reconcile.month_span(month or ctx.today.strftime("%Y-%m"))
    with read_unit(get_state(request).engine) as u:
        found = blockers.month_blockers(u, ctx.store_id, first, last)
    return {"first_day": first, "last_day": last, "blockers": [v.as_dict() for v in found]}


@router.get("/reconciliation/runs/{run_id}", response_model=RunOut, **guarded(Action.RECONCILE_READ))
def get_run(run_id: RowId, request: Request, ctx: CtxDep) -> Any:
    with read_unit(get_state(request).engine) as u:
        return views.run(u, ctx, run_id)


def _ran(request: Request, ctx: Any, outcome: reconcile.Outcome) -> list[Any]:
    with read_unit(get_state(request).engine) as u:
        return [views.run_out(u, r) for r in outcome.runs]


@router.post("/reconciliation/days/{day}", response_model=list[RunOut], status_code=201,
             **guarded(Action.RECONCILE))
def reconcile_day(day: date, request: Request, ctx: CtxDep) -> Any:
    in_era(day=day)
    if day > ctx.today:
        raise AppError(422, "RECON-PERIOD", "不能对未来的日期对账", "a day to come cannot be reconciled")
    return _ran(request, ctx, reconcile.reconcile(get_state(request).engine, ctx, gateway_of(request), "day", day,
                                                  day))


@router.post("/reconciliation/months/{month}", response_model=list[RunOut], status_code=201,
             **guarded(Action.RECONCILE))
def reconcile_month(month: str, request: Request, ctx: CtxDep) -> Any:
    first, last = reconcile.month_span(month)
    return _ran(request, ctx, reconcile.reconcile(get_state(request).engine, ctx, gateway_of(request), "month",
                                                  first, min(last, ctx.today)))


@router.post("/reconciliation/runs/{run_id}/ack", response_model=AckOut, status_code=201,
             **guarded(Action.RECONCILE_ACK))
def acknowledge(run_id: RowId, body: AckIn, request: Request, ctx: CtxDep) -> Any:
    with unit_of_work(request) as u:
        return reconcile.acknowledge(u, ctx, run_id, body.note)._asdict()


@router.post("/reconciliation/items/{item_id}/reverse", response_model=RepairOut, status_code=201,
             **guarded(Action.RECONCILE))
def repair(item_id: RowId, request: Request, ctx: CtxDep,
           by: Annotated[Authoriser | None, Depends(second_of(Action.RECONCILE))]) -> Any:
    """The 2601 repair; its second person (SEC-01) confirmed in place, their grant in the X-Second header."""
    engine = get_state(request).engine
    return reconcile.repair(engine, ctx, gateway_of(request), item_id,
                            second_person.confirmation_of(engine, by))
