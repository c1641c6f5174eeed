"""The store profile, the 医保协议 and the registered tills."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import select

from server.api.deps import CtxDep, ReadSession, RowId, guarded, unit_of_work
from server.api.schemas.store import (
    AgreementEventIn,
    AgreementEventOut,
    ReasonIn,
    StoreOut,
    StoreUpdate,
    TillIn,
    TillOut,
)
from server.db.models import Store, Till
from server.permissions import Action
from server.rules.agreement import card_settlement_refusals
from server.services.context import Ctx
from server.services.store import profile as store_service

router = APIRouter(tags=["store"])


def _store_out(store: Store, ctx: Ctx) -> StoreOut:
    refusals = card_settlement_refusals(store_service.standing(store), ctx.today)
    return StoreOut.model_validate(store.model_dump() | {"card_settlement_refusals": [v.as_dict() for v in refusals]})


@router.get("/store", response_model=StoreOut, **guarded(Action.STORE_READ))
def get_store(s: ReadSession, ctx: CtxDep) -> StoreOut:
    return _store_out(store_service.get_store(s, ctx), ctx)


@router.patch("/store", response_model=StoreOut, **guarded(Action.STORE_WRITE))
def update_store(body: StoreUpdate, request: Request, ctx: CtxDep) -> StoreOut:
    with unit_of_work(request) as u:
        store = store_service.update_profile(u, ctx, body.model_dump(exclude_unset=True))
        return _store_out(store, ctx)


@router.get("/store/agreement-events", response_model=list[AgreementEventOut], **guarded(Action.STORE_READ))
def agreement_events(s: ReadSession, ctx: CtxDep) -> list[AgreementEventOut]:
    return [AgreementEventOut.model_validate(e.model_dump()) for e in store_service.agreement_history(s, ctx)]


@router.post("/store/agreement-events", response_model=AgreementEventOut, status_code=201,
             **guarded(Action.AGREEMENT_WRITE))
def add_agreement_event(body: AgreementEventIn, request: Request, ctx: CtxDep) -> AgreementEventOut:
    with unit_of_work(request) as u:
        ev = store_service.record_agreement_event(u, ctx, body.status, body.effective_on, body.ends_on,
                                                  body.agreement_no, body.reason)
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
