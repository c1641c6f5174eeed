"""The till's hot lane: its hottest requests — a scan into the basket, the payment, the catalog search on every
keystroke — served past FastAPI.

A scan is a round trip the customer waits for, many times a sale. Measured on the running service (py-spy,
and the same use case called in-process), FastAPI's part of a scan (routing through the included routers,
the dependency solver resolving token, caller, permission and context, and its middleware) cost more than
the use case with its SQL; of a search, two fifths of it. This ASGI middleware serves the happy path of the
routes marked @hot: a JSON body that validates against the route's own body model (a GET: no body), path
and query parameters that validate against the route's own annotations, a bearer token the principal cache
resolves, a post the route's own permission allows. Anything else (no token or an unknown one, a post not
allowed, a body, path or query that does not validate, a query parameter given twice, another content type,
a large body) is passed on untouched, the body replayed, to the full route, which answers it as it always
does.

Built at start-up from the routes themselves: a path, its method, status, permission and models are
declared once, on the route. Both doors call the same handler through the same runner (server.api.run), so
there is one contract and one use case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_origin, get_type_hints
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.deps import caller_on_loop, get_state
from server.api.errors import error_response
from server.api.run import run
from server.errors import AppError
from server.permissions import Action, allowed
from server.services.context import Ctx
from server.services.store.users import Principal

_MAX_BODY = 16 * 1024  # a scan is ~40 bytes, a payment ~200; anything larger goes the long way
_JSON = b"application/json"
_MARK = "dingdian_hot"

E = TypeVar("E", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Hot:
    """What a hot route runs: handler(engine, ctx, who, *path parameters, *query parameters, body, on_loop=False)
    -> the JSON answer (body: for a route that reads one; query parameters: those the route declares, in its
    order); `durable`: its commit is on disk before it answers (see server.api.run)."""

    handler: Callable[..., bytes]
    durable: bool


def hot(handler: Callable[..., bytes], *, durable: bool) -> Callable[[E], E]:
    """Mark a route's endpoint as served by the hot lane too (the route's decorator goes above this one)."""
    def mark(endpoint: E) -> E:
        setattr(endpoint, _MARK, Hot(handler, durable))
        return endpoint
    return mark


def _hot_of(endpoint: Any) -> Hot | None:
    return getattr(endpoint, _MARK, None)


async def serve(request: Request, ctx: Ctx, who: Principal, *args: Any) -> Response:
    """A hot route's own body, when the request came the long way: its handler, run where server.api.run
    says, answered with the route's status (the JSON was built as the route's response model)."""
    route = request.scope["route"]
    marked = _hot_of(route.endpoint)
    assert marked is not None, "serve() is the body of a route marked @hot"
    answer = await run(get_state(request).engine, marked.durable, marked.handler, ctx, who, *args)
    return Response(answer, status_code=route.status_code or 200, media_type="application/json")


@dataclass(frozen=True, slots=True)
class _Query:
    """A query parameter of the route: its name in the query string, its own annotation, its default."""

    alias: str
    adapter: TypeAdapter[Any]
    required: bool
    default: Any


@dataclass(frozen=True, slots=True)
class _Lane:
    name: str  # the handler's
    method: str
    path: re.Pattern[str]
    status: int
    action: Action
    body: type[BaseModel] | None  # None: the route reads no body (a GET)
    params: tuple[TypeAdapter[Any], ...]  # the path parameters' own annotations, in path order
    query: tuple[_Query, ...]  # the query parameters, in the route's order
    hot: Hot


def _api_routes(routes: Sequence[BaseRoute], included: bool = False) -> Iterator[tuple[APIRoute, bool]]:
    """Every APIRoute, through the routers included (FastAPI keeps them nested), and whether an inclusion added a
    prefix or dependencies on the way (which the lane would not see)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route, included
        elif (inner := getattr(route, "original_router", None)) is not None:
            context = getattr(route, "include_context", None)
            adds = bool(getattr(context, "prefix", "") or getattr(context, "dependencies", None))
            yield from _api_routes(inner.routes, included or adds)


def lanes_of(routes: Sequence[BaseRoute]) -> list[_Lane]:
    """The hot lane's table, read off the routes marked @hot."""
    out = []
    for route, changed_by_inclusion in _api_routes(routes):
        if (marked := _hot_of(route.endpoint)) is None:
            continue
        if changed_by_inclusion:
            raise TypeError(f"hot route {route.path}: included with a prefix or dependencies the lane cannot see")
        hints = get_type_hints(route.endpoint, include_extras=True)
        action = (route.openapi_extra or {}).get("x-action")
        methods = route.methods or set()
        if action is None or len(methods) != 1 or ("body" in hints) == (methods == {"GET"}):
            raise TypeError(f"hot route {route.path}: it needs guarded(action), one method and a `body` parameter "
                            "(a GET: none)")
        out.append(_Lane(marked.handler.__name__, next(iter(methods)), route.path_regex,
                         route.status_code or 200, Action(action), hints.get("body"),
                         tuple(TypeAdapter(hints[name]) for name in route.param_convertors),
                         _query_of(route, hints), marked))
    return out


def _query_of(route: APIRoute, hints: dict[str, Any]) -> tuple[_Query, ...]:
    """The route's own query parameters, each a single value under one name (what the lane reads as the route
    does); refused here otherwise, or where a dependency of the route reads the query string too."""
    if _reads_query(route.dependant.dependencies):
        raise TypeError(f"hot route {route.path}: a dependency reads query parameters the lane would not see")
    out = []
    for field in route.dependant.query_params:
        info = field.field_info
        if info.validation_alias is not None or get_origin(info.annotation) in (list, tuple, set, frozenset):
            raise TypeError(f"hot route {route.path}: query parameter {field.name} is not one value under one name")
        out.append(_Query(field.alias, TypeAdapter(hints[field.name]), info.is_required(), info.default))
    return tuple(out)


def _reads_query(dependants: Sequence[Any]) -> bool:
    return any(d.query_params or _reads_query(d.dependencies) for d in dependants)


class TillLane:
    """The middleware; `routes`: the app's routes, read when the first request comes (all are included by then)."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self._routes = routes
        self._lanes: list[_Lane] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (lane_and_args := self._match(scope)) is None:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        if body is None or not await _serve(scope, send, *lane_and_args, body):
            await self.app(scope, _replay(messages, receive), send)

    def _match(self, scope: Scope) -> tuple[_Lane, tuple[str, ...]] | None:
        if self._lanes is None:
            self._lanes = lanes_of(self._routes)
        for lane in self._lanes:
            if scope["method"] == lane.method and (found := lane.path.match(scope["path"])):
                return lane, tuple(found.groups())
        return None


async def _serve(scope: Scope, send: Send, lane: _Lane, raw_args: tuple[str, ...], body: bytes) -> bool:
    """True when answered here; False (nothing sent, nothing written) to pass the request on."""
    token, content_type = _headers(scope)
    if not token or any(name == b"x-grant" for name, _ in scope["headers"]):  # authorised in place: the route's
        return False
    if lane.body is None:
        if body:  # a body the route would not read: the long way
            return False
    elif content_type.split(b";", 1)[0].strip() != _JSON:
        return False
    state = scope["app"].state.dingdian
    try:
        args = tuple(adapter.validate_python(raw) for adapter, raw in zip(lane.params, raw_args, strict=True))
        query = _query_values(lane.query, scope["query_string"])
        if query is None:
            return False
        args += query
        if lane.body is not None:
            args += (lane.body.model_validate_json(body),)
    except ValidationError:
        return False
    who = await caller_on_loop(state, token)
    if who is None or not allowed(who.roles, lane.action):
        return False
    ctx = Ctx(state.store_id, state.settings, who.actor)
    try:
        answer = await _call(lane, state.engine, ctx, who, args)
    except AppError as exc:  # a refusal: the same body the full route's handler would give
        await error_response(exc)(scope, _no_body, send)
        return True
    await send({"type": "http.response.start", "status": lane.status,
                "headers": [(b"content-type", _JSON), (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})
    return True


async def _call(lane: _Lane, engine: Any, ctx: Ctx, who: Principal, args: tuple[Any, ...]) -> bytes:
    return await run(engine, lane.hot.durable, lane.hot.handler, ctx, who, *args)


def _query_values(query: tuple[_Query, ...], raw: bytes) -> tuple[Any, ...] | None:
    """The query parameters' values, read as the route reads them: the query string parsed as Starlette parses
    it, each value validated against the parameter's own annotation (ValidationError), its default where the
    parameter is absent. None (the long way) where the route would refuse it for want of one, or where a
    parameter is given twice (the route takes one of them; the lane does not guess which)."""
    if not query:
        return ()
    given: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        given.setdefault(key, []).append(value)
    out = []
    for param in query:
        values = given.get(param.alias)
        if values is None:
            if param.required:
                return None
            out.append(param.default)
        elif len(values) > 1:
            return None
        else:
            out.append(param.adapter.validate_python(values[0]))
    return tuple(out)


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
