"""Login, logout, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.api.deps import CtxDep, Who, unit_of_work
from server.api.schemas.auth import FirstPinIn, LoginIn, LoginOut, UserOut
from server.db.models.base import id_of
from server.db.uow import orm
from server.services.store import users
from server.services.store.profile import usable_till

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut, openapi_extra={"x-action": "public"})
def login(body: LoginIn, request: Request, ctx: CtxDep) -> LoginOut:
    with unit_of_work(request) as u:
        # A till session only from a registered, active till bound to this store's site (AGR-02, CARD-06).
        till_id = usable_till(orm(u), ctx, body.till_code).id if body.till_code else None
        result = users.login(u, ctx, body.username, body.pin, till_id)
        if result is not None:
            token, sess, user = result
            out = LoginOut(token=token, expires_at=sess.expires_at,
                           user=UserOut(id=id_of(user), username=user.username, display_name=user.display_name,
                                        status=user.status, roles=sorted(users.active_roles(orm(u), id_of(user)))))
    if result is None:  # the failure was recorded and committed above
        raise users.BAD_LOGIN
    return out


@router.post("/first-pin", status_code=204, openapi_extra={"x-action": "public"})
def first_pin(body: FirstPinIn, request: Request, ctx: CtxDep) -> None:
    """SEC-01: the owner of a new account sets their first PIN with the one-time code handed to them; then they
    log in. A wrong code counts like a wrong PIN (the lockout)."""
    with unit_of_work(request) as u:
        done = users.set_first_pin(u, ctx, body.username, body.code, body.pin)
    if done is None:  # the failure was recorded and committed above
        raise users.BAD_CODE


@router.post("/logout", status_code=204, openapi_extra={"x-action": "authenticated"})
def logout(request: Request, who: Who, ctx: CtxDep) -> None:
    with unit_of_work(request) as u:
        users.logout(u, ctx, who)


@router.get("/me", response_model=UserOut, openapi_extra={"x-action": "authenticated"})
def me(who: Who) -> UserOut:
    return UserOut(id=who.user_id, username=who.username, display_name=who.display_name, status="active",
                   roles=sorted(who.roles))
