"""Dependencies the routers share: the unit of work, the caller, the permission check."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.audit import SYSTEM
from server.auth import grants as grant_store
from server.auth.grants import Authoriser
from server.db.types import utcnow
from server.db.uow import Unit, core_unit, read_session
from server.errors import AppError
from server.permissions import IN_PLACE, Action, allowed, who_may, who_may_zh
from server.services.catalog.items import Approval
from server.services.context import Ctx
from server.services.store import hands
from server.services.store.users import Principal, approver_of, resolve_token, token_hash
from server.state import AppState

_bearer = HTTPBearer(auto_error=False, description="登录后获得的令牌 / the token from POST /auth/login")


def get_state(request: Request) -> AppState:
    return request.app.state.dingdian


async def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or not creds.credentials:
        raise AppError(401, "AUTH", "请先登录", "log in first")
    who = await caller_on_loop(get_state(request), creds.credentials)
    if who is None:
        raise AppError(401, "AUTH", "登录已失效，请重新登录", "the token is invalid, expired or revoked")
    request.state.principal = who
    return who


def caller(state: AppState, token: str) -> Principal | None:
    """Whose token this is: from the principal cache, or read (and cached) when it is not there."""
    ctx = Ctx(state.store_id, state.settings)

    def load() -> Principal | None:
        with read_session(state.engine) as s:
            return resolve_token(s, ctx, token)

    return state.principals.resolve(token_hash(token), ctx.now, lambda p: p.expires_at, load)


async def caller_on_loop(state: AppState, token: str) -> Principal | None:
    """caller(), asked on the event loop (every request asks it, the routes and the hot lane): the cache answers
    there, a hop to a worker thread costing more than the look-up; a miss reads the database, in the threadpool."""
    return state.principals.get(token_hash(token), utcnow()) or await run_in_threadpool(caller, state, token)


def require(action: Action) -> Callable[..., AsyncIterator[Principal]]:
    async def _check(request: Request, who: Annotated[Principal, Depends(principal)]) -> AsyncIterator[Principal]:
        token = request.headers.get(grant_store.HEADER)
        if not token:
            if not allowed(who.roles, action):  # pure CPU: no threadpool hop
                in_place = f"：可由{who_may_zh(action)}当场输入工号和 PIN 授权" if action in IN_PLACE else ""
                raise AppError(403, "SEC-01", f"当前岗位无权执行此操作{in_place}", f"your post may not do {action.value}",
                               {"action": action.value, "roles": sorted(r.value for r in who.roles),
                                "who_may": [r.value for r in who_may(action)], "who_may_zh": who_may_zh(action),
                                "in_place": action in IN_PLACE})
            yield who
            return
        # Authorised in place: the authoriser's posts decide, and they act (server.auth.grants). The grant is
        # spent when the request succeeds and given back when it is refused (nothing was written).
        grants = get_state(request).grants
        grant, replay, key, by = await _claim(request, who, action, token)
        try:
            yield by
        except BaseException:
            if not replay:
                grants.give_back(grant)
            raise
        if not replay:
            grants.spend(grant, key)

    return _check


# Where a grant's subject is read: the path's id of the thing acted on, or a return's sale in its body.
_SUBJECT_PARAMS = ("sale_id", "rx_id", "shift_id", "item_id")
_REPLAY_KEYS = ("id", "return_id")  # a request's idempotency key: a retry of the one that spent the grant


async def _body_json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _claim(request: Request, who: Principal, action: Action,
                 token: str) -> tuple[grant_store.Grant, bool, str, Principal]:
    """The grant claimed for this request (whether it repeats the request that spent it, and its key), and
    the authoriser as the request's acting principal; refused with nothing claimed."""
    state = get_state(request)
    ctx = Ctx(state.store_id, state.settings)
    grant, replay, key = await _claim_grant(request, who, action, action.value, token)
    try:
        roles = await run_in_threadpool(hands.still_authorised, state.engine, ctx, grant.authoriser, action)
    except BaseException:
        if not replay:
            state.grants.give_back(grant)
        raise
    a = grant.authoriser
    by = dataclasses.replace(who, user_id=a.user_id, username=a.username, display_name=a.display_name, roles=roles)
    request.state.acting = by
    return grant, replay, key, by


async def _claim_grant(request: Request, who: Principal, action: Action, grant_action: str,
                       token: str) -> tuple[grant_store.Grant, bool, str]:
    """The grant for `grant_action` on this request's subject claimed (whether the request repeats the one that
    spent it, and its idempotency key); refused with nothing claimed."""
    state = get_state(request)
    params = request.path_params
    body = await _body_json(request) if request.method != "GET" else {}
    subject = next((str(params[k]) for k in _SUBJECT_PARAMS if k in params), str(body.get("sale_id", "")))
    key = next((str(body[k]).lower() for k in _REPLAY_KEYS if body.get(k)), "")
    try:
        grant, replay = state.grants.claim(token, who.session_id, grant_action, subject, key, utcnow())
    except grant_store.GrantRefused as exc:
        raise AppError(403, "SEC-01", exc.zh, exc.en, {"action": action.value, "grant": "refused"}) from exc
    return grant, replay, key


def second_of(action: Action) -> Callable[..., AsyncIterator[Authoriser | None]]:
    """The second person who confirmed this request at the till (header X-Second: a grant asked with `second`),
    or None when none was sent; the route's rule judges them. Spent when the request succeeds, given back when it
    is refused (nothing was written), like the in-place grant."""
    async def _second(request: Request, who: Annotated[Principal, Depends(principal)]
                      ) -> AsyncIterator[Authoriser | None]:
        token = request.headers.get(grant_store.SECOND_HEADER)
        if not token:
            yield None
            return
        grants = get_state(request).grants
        grant, replay, key = await _claim_grant(request, who, action, grant_store.second_action(action.value), token)
        try:
            yield grant.authoriser
        except BaseException:
            if not replay:
                grants.give_back(grant)
            raise
        if not replay:
            grants.spend(grant, key)

    return _second


def acting(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """Who performs the request: the authoriser where one authorised it in place, else the caller. The till
    (who.till_code, the session) stays the caller's."""
    found: Principal | None = getattr(request.state, "acting", None)
    return found or who


def guarded(action: Action, **openapi: Any) -> dict[str, Any]:
    """Route keyword arguments: the permission check, and the action recorded in the OpenAPI schema."""
    return {"dependencies": [Depends(require(action))], "openapi_extra": {"x-action": action.value, **openapi}}


async def ctx_for(request: Request) -> Ctx:
    """The use case's context; the actor is the caller the permission check resolved (none on public routes)."""
    state = get_state(request)
    who: Principal | None = getattr(request.state, "principal", None)
    by: Principal | None = getattr(request.state, "acting", None)
    if who is not None and by is not None:  # authorised in place: the authoriser acts, the till's person beside
        return Ctx(state.store_id, state.settings, dataclasses.replace(by.actor, till_user=who.actor))
    return Ctx(state.store_id, state.settings, who.actor if who else SYSTEM)


def reader(request: Request) -> Iterator[Session]:
    with read_session(get_state(request).engine) as s:
        yield s


def unit_of_work(request: Request, durable: bool = True) -> AbstractContextManager[Unit]:
    """The use case's Unit (server.db.uow.core_unit). Handlers open it themselves, so the commit happens before the
    response is sent; a read-only handler takes a ReadSession instead (a read is not a unit of work)."""
    return core_unit(get_state(request).engine, durable)


ReadSession = Annotated[Session, Depends(reader)]
CtxDep = Annotated[Ctx, Depends(ctx_for)]
Who = Annotated[Principal, Depends(principal)]
Acting = Annotated[Principal, Depends(acting)]

# Row ids in paths: positive and within a 32-bit integer, so no backend overflows on a wild value.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def json_response_bytes(body: bytes, status_code: int = 200) -> Response:
    """JSON the use case serialised already, without FastAPI validating it a second time against the route's
    response_model (it was built as that model). For the hot paths: a scan, a completion."""
    return Response(body, status_code=status_code, media_type="application/json")


def approval_of(request: Request, ctx: Ctx, by: Authoriser | None, reason: str) -> Approval | None:
    """The second person of a request that loosens an item's controlled facts (RX-01, CARD-07): who confirmed in
    place (their grant, X-Second; their PIN checked when it was asked), as they are now. None when nobody did: the
    use case then refuses what needs one."""
    if by is None:
        return None
    with read_session(get_state(request).engine) as s:
        return Approval(approver_of(s, ctx, by.user_id), reason)
