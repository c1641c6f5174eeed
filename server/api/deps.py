"""Dependencies the routers share: the unit of work, the caller, the permission check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.audit import SYSTEM
from server.db.types import utcnow
from server.db.uow import Unit, core_unit, read_session
from server.errors import AppError
from server.permissions import Action, allowed
from server.services.catalog.items import Approval
from server.services.context import Ctx
from server.services.store.users import BAD_LOGIN, Principal, resolve_token, second_person, token_hash
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


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    async def _check(who: Annotated[Principal, Depends(principal)]) -> Principal:  # pure CPU: no threadpool hop
        if not allowed(who.roles, action):
            raise AppError(403, "SEC-01", "当前岗位无权执行此操作", f"your post may not do {action.value}",
                           {"action": action.value, "roles": sorted(r.value for r in who.roles)})
        return who

    return _check


def guarded(action: Action, **openapi: Any) -> dict[str, Any]:
    """Route keyword arguments: the permission check, and the action recorded in the OpenAPI schema."""
    return {"dependencies": [Depends(require(action))], "openapi_extra": {"x-action": action.value, **openapi}}


async def ctx_for(request: Request) -> Ctx:
    """The use case's context; the actor is the caller the permission check resolved (none on public routes)."""
    state = get_state(request)
    who: Principal | None = getattr(request.state, "principal", None)
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

# Row ids in paths: positive and within a 32-bit integer, so no backend overflows on a wild value.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def json_response_bytes(body: bytes, status_code: int = 200) -> Response:
    """JSON the use case serialised already, without FastAPI validating it a second time against the route's
    response_model (it was built as that model). For the hot paths: a scan, a completion."""
    return Response(body, status_code=status_code, media_type="application/json")


def approval_of(request: Request, ctx: Ctx, username: str, pin: str, reason: str) -> Approval | None:
    """The second person named in a request that loosens an item's controlled facts (RX-01, CARD-07), their PIN
    checked in a unit of its own so a wrong one is counted towards the lockout even though the request is refused.
    None when nobody is named: the use case then refuses what needs one."""
    if not username:
        return None
    with unit_of_work(request) as u:
        approver = second_person(u, ctx, username, pin)
    if approver is None:
        raise BAD_LOGIN
    return Approval(approver, reason)
