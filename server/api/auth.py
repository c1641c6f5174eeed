"""Login, logout, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from server.api.deps import CtxDep, Who, get_state, unit_of_work
from server.api.schemas.auth import AuthoriseIn, AuthoriseOut, AuthoriserOut, FirstPinIn, LoginIn, LoginOut, UserOut
from server.auth.grants import second_action
from server.db.models.base import id_of
from server.db.uow import orm
from server.permissions import IN_PLACE, actions_of, allowed, who_may_zh
from server.roles import Role
from server.services.store import hands, users
from server.services.store.profile import usable_till

router = APIRouter(prefix="/auth", tags=["auth"])


def user_out(user_id: int, username: str, display_name: str, status: str, roles: frozenset[Role]) -> UserOut:
    """The user with their rights: what the posts may (`actions`), and who may authorise in place what they
    may not (`in_place`), so the till refuses early and names who may."""
    return UserOut(id=user_id, username=username, display_name=display_name, status=status, roles=sorted(roles),
                   actions=actions_of(roles),
                   in_place={a.value: who_may_zh(a) for a in IN_PLACE if not allowed(roles, a)})


@router.post("/login", response_model=LoginOut, openapi_extra={"x-action": "public"})
def login(body: LoginIn, request: Request, ctx: CtxDep) -> LoginOut:
    # The PIN's verification before the unit of work: the writer is not held while argon2 runs (users.verify_ahead).
    verified = users.verify_ahead(get_state(request).engine, ctx, body.username, body.pin)
    with unit_of_work(request) as u:
        # A till session only from a registered, active till bound to this store's site (AGR-02, CARD-06).
        till_id = usable_till(orm(u), ctx, body.till_code).id if body.till_code else None
        result = users.login(u, ctx, body.username, body.pin, till_id, verified)
        if result is not None:
            token, sess, user = result
            roles = users.active_roles(orm(u), id_of(user))
            out = LoginOut(token=token, expires_at=sess.expires_at,
                           user=user_out(id_of(user), user.username, user.display_name, user.status, roles))
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
    return user_out(who.user_id, who.username, who.display_name, "active", who.roles)


@router.post("/authorise", response_model=AuthoriseOut, openapi_extra={"x-action": "authenticated"})
async def authorise(body: AuthoriseIn, request: Request, ctx: CtxDep, who: Who) -> AuthoriseOut:
    """SEC-01 in place: the holder of a post that may do `action` types their username and PIN at this till; the
    answer is a grant for that one action on `subject`, at this till's session, for a short while, once. The PIN
    goes through the login's lockout; the authoriser is another person than the one logged in, their account
    live, their post one that may (the refusal names the posts that do)."""
    state = get_state(request)
    if body.second:  # a second person's check (X-Second): the request's rule judges them at the use
        by = await run_in_threadpool(hands.second, state.engine, ctx, body.username, body.pin, body.action)
        action = second_action(body.action.value)
    else:
        by = await run_in_threadpool(hands.authorise, state.engine, ctx, who.user_id, body.username, body.pin,
                                     body.action)
        action = body.action.value
    grant, expires_at = state.grants.issue(who.session_id, who.user_id, by, action, body.subject, ctx.now)
    return AuthoriseOut(grant=grant, expires_at=expires_at, action=body.action, subject=body.subject.lower(),
                        user=AuthoriserOut(id=by.user_id, username=by.username, display_name=by.display_name,
                                           roles=sorted(by.roles)))
