"""The till's two hottest requests, a scan into the basket and the payment, served past the framework.

A scan is a round trip the customer waits for, many times a sale. Measured on the running service
(py-spy, and the same use case called in-process), FastAPI's part of a scan (routing through the
included routers, the dependency solver resolving token, caller, permission and context, and its
middleware) cost more than the use case with its SQL. This ASGI middleware serves the happy path of
exactly those two requests: a JSON body that validates against the route's own model, a bearer token
the principal cache resolves, a post allowed to sell. Anything else (no token or an unknown one, a
post not allowed, a body that does not validate, another content type, a large body) is passed on
untouched, the body replayed, to the full route, which answers it as it always does. Both call the
same function (server.api.selling.scan and .pay), so there is one contract and one use case.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api import selling as selling_api
from server.api.deps import caller
from server.api.errors import error_response
from server.api.schemas import CompleteIn, LineIn
from server.db.session import NotOnLoop, loop_may_wait
from server.db.types import utcnow
from server.errors import AppError
from server.permissions import Action, allowed
from server.services.context import Ctx
from server.services.store.users import Principal, token_hash

# POST /sales/{uuid}/lines and POST /sales/{uuid}/complete; the id as the full route's SalePath admits it.
_HOT = re.compile(r"^/sales/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
                  r"/(lines|complete)$")
_MAX_BODY = 16 * 1024  # a scan is ~40 bytes, a payment ~200; anything larger goes the long way
_JSON = b"application/json"


class Handler(Protocol):
    """selling_api.scan or selling_api.pay: the parsed body; on_loop, in the event loop's unit of work."""

    def __call__(self, engine: Engine, ctx: Ctx, who: Principal, sale_id: str, body: Any, on_loop: bool = False,
                 /) -> bytes: ...


_ROUTES: dict[str, tuple[type[BaseModel], Handler, int]] = {
    "lines": (LineIn, selling_api.scan, 201),
    "complete": (CompleteIn, selling_api.pay, 200),
}


class TillFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not (hot := _HOT.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        if body is None or not await self._serve(scope, send, hot.group(1), hot.group(2), body):
            await self.app(scope, _replay(messages, receive), send)

    async def _serve(self, scope: Scope, send: Send, sale_id: str, what: str, body: bytes) -> bool:
        """True when answered here; False (nothing sent, nothing written) to pass the request on."""
        token, content_type = _headers(scope)
        if not token or content_type.split(b";", 1)[0].strip() != _JSON:
            return False
        state = scope["app"].state.dingdian
        model, handler, status = _ROUTES[what]
        try:
            parsed = model.model_validate_json(body)
        except ValidationError:
            return False
        # The cache answers on the event loop; a miss reads the database, which belongs in the threadpool.
        who = state.principals.get(token_hash(token), utcnow()) or await run_in_threadpool(caller, state, token)
        if who is None or not allowed(who.roles, Action.SELL):
            return False
        ctx = Ctx(state.store_id, state.settings, who.actor)
        try:
            answer = await _run(state.engine, what, handler, ctx, who, sale_id, parsed)
        except AppError as exc:  # a refusal: the same body the full route's handler would give
            await error_response(exc)(scope, _no_body, send)
            return True
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", _JSON), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})
        return True


async def _run(engine: Engine, what: str, handler: Handler, ctx: Ctx, who: Principal, sale_id: str,
               parsed: Any) -> bytes:
    """On SQLite, a scan and a cash payment run on the event loop when the writer's lock is free: a few
    statements and a commit, cheaper than the hop to a worker thread and back, which measured as much as
    half the scan and a sixth of the payment. If another writer holds the lock (a print job's update,
    another till's payment, another process), it is not waited for here, and work that needs the ORM (a
    refusal worded from full reads, an Rx sale's checks, a retried payment) is not done here: the request
    goes to the threadpool like everything else (NotOnLoop: nothing was written). A payment's commit waits
    for the disk: on the loop only while the disk answers quickly (loop_may_wait). On PostgreSQL every
    statement is a network round trip: always the threadpool."""
    if engine.dialect.name == "sqlite" and (what == "lines" or loop_may_wait(engine)):
        try:
            return handler(engine, ctx, who, sale_id, parsed, True)
        except NotOnLoop:
            pass
    return await run_in_threadpool(handler, engine, ctx, who, sale_id, parsed)


def _headers(scope: Scope) -> tuple[str, bytes]:
    """The bearer token (as HTTPBearer reads it: scheme case-insensitive) and the content type, each from
    the header's first occurrence, as Starlette reads them."""
    authorization: bytes | None = None
    content_type: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"content-type" and content_type is None:
            content_type = value.lower()
    scheme, _, credentials = (authorization or b"").decode("latin-1").partition(" ")
    return (credentials.strip() if scheme.lower() == "bearer" else ""), content_type or b""


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages received, and the body when it came whole and small (None: too large, or the client
    went away): the messages are replayed as they came if the request is passed on."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > _MAX_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The messages already read, in order, then whatever the client sends next."""
    pending = list(reversed(messages))

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
