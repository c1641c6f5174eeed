"""The service's routers in two groups: those a sale needs, which a starting service serves before it answers
/health, and the rest, which it may load a moment later.

Half of a cold start (#16 §5, target < 1.5 s to /health) was importing the back office — receiving, counts, the
month end, uploads, the checklist, labels — and building its models, none of which a sale needs. `dingdian serve`
answers as soon as the sale's routes are in (the basket, payment, card, prescriptions, login, the till's shift and
events); the rest are loaded on a thread right after, and a request that reaches none of the sale's routes meanwhile
waits for them rather than being told 404 (`LaterRoutes.default`). Everything else (the tests, a one-off CLI app)
includes both groups at once.

Order does not matter between the groups: no path of one is matched by a route of the other
(tests/server/test_routers.py walks every pair), so appending the later group routes every request as including
both at once would.
"""

from __future__ import annotations

import functools
import gc
import importlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from reports import collector
from server.api.errors import ErrorBody

# The error bodies every route documents.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 413, 422, 424)}

# Starlette matches routes in order, one by one: the till's hot paths (scan, pay) come first, after /health.
SALE_ROUTERS = ("health", "selling", "auth", "catalog", "prescriptions", "card", "till", "events")
LATER_ROUTERS = ("store", "users", "devices", "printing", "stock", "receiving", "audit", "reports", "insurance", "care",
                 "checklist", "reconciliation", "documents", "period", "money", "statements", "stock_in", "uploads",
                 "eprx", "labels")


@functools.cache
def route_table(group: tuple[str, ...]) -> tuple[BaseRoute, ...]:
    """A group's routers as included, once per process and shared by every app it builds.

    FastAPI builds an included router's routes (their parameter and response models) on the first request that
    reaches them, ~0.1 s for selling's, and keeps them on the included router. Shared, a process that builds many
    apps — the test suite builds one per test — builds them once rather than ~0.13 s of CPU per app. Nothing here
    is the app's own: the service takes no dependency overrides (the one thing FastAPI binds to the including app)."""
    scratch = FastAPI(responses=ERROR_RESPONSES)
    own = len(scratch.router.routes)  # its /openapi.json and /docs: each app has its own
    for name in group:
        scratch.include_router(importlib.import_module(f"server.api.{name}").router)
    return tuple(scratch.router.routes[own:])


class LaterRoutes:
    """The later group's routes on an app that started with the sale's only: `load` adds them (once; from the
    loading thread, or from a request that would otherwise find no route), `default` is the router's answer to a
    request no route matched, which waits for the load and routes it again."""

    def __init__(self, app: FastAPI, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self._app = app
        self._routes = routes
        self._lock = threading.Lock()
        self._not_found = app.router.default
        self.ready = threading.Event()
        app.router.default = self.default

    def load(self) -> None:
        with self._lock:
            if not self.ready.is_set():
                # Modules, classes and routes that live as long as the service, and next to no garbage: the collector
                # waits until they are made, then no longer walks them (as `dingdian serve` does for the first group).
                with collector.paused():
                    self._app.router.routes.extend(self._routes())
                gc.freeze()
                self.ready.set()

    async def default(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.ready.is_set():
            await self._not_found(scope, receive, send)
            return
        await anyio.to_thread.run_sync(self.load)
        await self._app.router.app(scope, receive, send)  # routed again, every route now in place
