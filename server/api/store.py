"""The store profile, the 医保协议 and the registered tills."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from server.api.deps import CtxDep, ReadSession, RowId, get_state, guarded, second_of, unit_of_work
from server.api.schemas.store import (
    AgreementEventIn,
    AgreementEventOut,
    ReasonIn,
    StoreOut,
    StoreUpdate,
    TillIn,
    TillOut,
)
from server.auth.grants import Authoriser
from server.db.models import Store, Till
from server.db.uow import orm
from server.errors import AppError
from server.permissions import Action
from server.rules.agreement import card_settlement_refusals
from server.services.context import Ctx
from server.services.store import profile as store_service
from server.services.store.users import confirmed_by

router = APIRouter(tags=["store"])


def _store_out(s: Session, store: Store, ctx: Ctx) -> StoreOut:
    """The store as it stands today: its agreement as the events in force today make it (a decision recorded
    ahead of its effective date is not in force yet), with what refuses the card today."""
    today = store_service.standing(s, ctx, store)
    refusals = card_settlement_refusals(today, ctx.today)
    return StoreOut.model_validate(store.model_dump() | {
        "agreement_status": today.agreement_status, "agreement_start": today.agreement_start,
        "agreement_end": today.agreement_end, "card_settlement_refusals": [v.as_dict() for v in refusals]})


@router.get("/store", response_model=StoreOut, **guarded(Action.STORE_READ))
def get_store(s: ReadSession, ctx: CtxDep) -> StoreOut:
    return _store_out(s, store_service.get_store(s, ctx), ctx)


@router.patch("/store", response_model=StoreOut, **guarded(Action.STORE_WRITE))
def update_store(body: StoreUpdate, request: Request, ctx: CtxDep) -> StoreOut:
    with unit_of_work(request) as u:
        store = store_service.update_profile(u, ctx, body.model_dump(exclude_unset=True))
        return _store_out(orm(u), store, ctx)


@router.get("/store/agreement-events", response_model=list[AgreementEventOut], **guarded(Action.STORE_READ))
def agreement_events(s: ReadSession, ctx: CtxDep) -> list[AgreementEventOut]:
    return [AgreementEventOut.model_validate(e.model_dump()) for e in store_service.agreement_history(s, ctx)]


@router.post("/store/agreement-events", response_model=AgreementEventOut, status_code=201,
             **guarded(Action.AGREEMENT_WRITE))
def add_agreement_event(body: AgreementEventIn, request: Request, ctx: CtxDep,
                        by: Annotated[Authoriser | None, Depends(second_of(Action.AGREEMENT_WRITE))]
                        ) -> AgreementEventOut:
    """The agency's decision (a suspension, its lifting, a termination) is confirmed by a second 医保
    administrator (AGR-01), who typed their PIN in place (POST /auth/authorise with `second`): their grant in the
    header X-Second."""
    confirmer = None
    if by is not None:
        confirmer = confirmed_by(get_state(request).engine, ctx, by.user_id,
                                  Action.AGREEMENT_WRITE, AppError(
                                      403, "AGR-01", "确认人须为另一位医保管理员，且 PIN 正确",
                                      "the confirming person must be another insurance administrator, with their PIN"))
    with unit_of_work(request) as u:
        ev = store_service.record_agreement_event(u, ctx, body.status, body.effective_on, body.ends_on,
                                                  body.agreement_no, body.reason, confirmer)
        return AgreementEventOut.model_validate(ev.model_dump())


@router.get("/tills", response_model=list[TillOut], **guarded(Action.STORE_READ))
def list_tills(s: ReadSession, ctx: CtxDep) -> list[TillOut]:
    tills = s.exec(select(Till).where(Till.store_id == ctx.store_id).order_by(Till.code))
    return [TillOut.model_validate(t.model_dump()) for t in tills]


@router.post("/tills", response_model=TillOut, status_code=201, **guarded(Action.TILL_WRITE))
def register_till(body: TillIn, request: Request, ctx: CtxDep) -> TillOut:
    with unit_of_work(request) as u:
        till = store_service.register_till(u, ctx, body.code, body.name, body.device_no)
        return TillOut.model_validate(till.model_dump())


@router.post("/tills/{till_id}/retire", response_model=TillOut, **guarded(Action.TILL_WRITE))
def retire_till(till_id: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> TillOut:
    with unit_of_work(request) as u:
        till = store_service.retire_till(u, ctx, till_id, body.reason)
        return TillOut.model_validate(till.model_dump())
