"""The insurance centre link: sign in (9001), sign out (9002), today's status."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.api.deps import CtxDep, ReadSession, get_state, guarded
from server.api.schemas.insurance import InsuranceStatusOut, SignInIn, SignInOut
from server.db.uow import read_session
from server.insurance.errors import GatewayError
from server.insurance.gateway import InsuranceGateway
from server.permissions import Action
from server.services.context import Ctx
from server.services.insurance import sign_in as insurance_session
from server.services.insurance.sign_in import SignInState

router = APIRouter(tags=["insurance"])


def gateway_of(request: Request) -> InsuranceGateway:
    """The service's gateway (built in create_app from [insurance])."""
    return request.app.state.insurance


def _out(st: SignInState) -> SignInOut:
    return SignInOut(opter=st.opter, opter_name=st.opter_name, sign_no=st.sign_no, sign_time=st.sign_time,
                     business_date=st.business_date, signed_in_at=st.signed_in_at, signed_out_at=st.signed_out_at,
                     sign_out_time=st.sign_out_time)


def _publish(request: Request, ctx: Ctx) -> None:
    state = get_state(request)
    with read_session(state.engine) as s:
        state.events.set_state(None, "insurance", insurance_session.store_state(s, ctx))


def _terminal_ip(request: Request, given: str | None) -> str:
    return given or insurance_session.terminal_ip(request.client.host if request.client else "")


@router.post("/insurance/sign-in", response_model=SignInOut, status_code=201, **guarded(Action.INSURANCE_SESSION))
def sign_in(request: Request, ctx: CtxDep, body: SignInIn | None = None) -> SignInOut:
    body = body or SignInIn()
    mac = body.mac or insurance_session.terminal_mac()
    try:
        st = insurance_session.sign_in(get_state(request).engine, ctx, gateway_of(request), mac,
                                       _terminal_ip(request, body.ip))
    except GatewayError as exc:
        raise exc.to_app_error() from exc
    _publish(request, ctx)
    return _out(st)


@router.post("/insurance/sign-out", response_model=SignInOut, **guarded(Action.INSURANCE_SESSION))
def sign_out(request: Request, ctx: CtxDep) -> SignInOut:
    try:
        st = insurance_session.sign_out(get_state(request).engine, ctx, gateway_of(request))
    except GatewayError as exc:
        raise exc.to_app_error() from exc
    _publish(request, ctx)
    return _out(st)


@router.get("/insurance/status", response_model=InsuranceStatusOut, **guarded(Action.INSURANCE_READ))
def status(request: Request, s: ReadSession, ctx: CtxDep) -> InsuranceStatusOut:
    settings = get_state(request).settings.insurance
    mine = insurance_session.current_sign_in(s, ctx)
    state = insurance_session.store_state(s, ctx)
    mine_out = None
    if mine is not None:
        name = next((o["opter_name"] for o in state["operators"] if o["opter"] == mine.opter), mine.opter)
        mine_out = _out(SignInState.of(mine, name))
    return InsuranceStatusOut(gateway=settings.gateway, url=settings.url, business_date=ctx.today,
                              signed_in=mine is not None, mine=mine_out, operators=state["operators"])
