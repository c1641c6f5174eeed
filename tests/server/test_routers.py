"""The routes a sale does not need, loaded after the service answers (server.api.routers): a request meanwhile waits
for them rather than being told 404, the loading happens once, and the two groups' routes never compete for a path,
so appending one later routes every request as including both at once would."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from server.api.routers import LATER_ROUTERS, SALE_ROUTERS, LaterRoutes, route_table


def _app_with_gated_later_routes() -> tuple[FastAPI, LaterRoutes, threading.Event, list[int]]:
    app = FastAPI()
    sale = APIRouter()
    sale.get("/health")(lambda: {"status": "ok"})
    app.include_router(sale)
    gate, loads = threading.Event(), []

    def routes() -> Sequence[BaseRoute]:
        loads.append(1)
        assert gate.wait(10), "the test never opened the gate"
        late = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        office = APIRouter()
        office.get("/checklist")(lambda: {"items": 26})
        office.post("/checklist/runs")(lambda: {"run": 1})
        late.include_router(office)
        return list(late.router.routes)

    return app, LaterRoutes(app, routes), gate, loads


def test_a_request_for_a_later_route_waits_for_it_and_is_answered_not_404() -> None:
    app, later, gate, loads = _app_with_gated_later_routes()
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        assert client.get("/health").json() == {"status": "ok"}  # the sale's routes answer while the rest are out
        waiting = [pool.submit(client.get, "/checklist"), pool.submit(client.post, "/checklist/runs"),
                   pool.submit(client.get, "/checklist")]
        time.sleep(0.3)
        assert not any(f.done() for f in waiting), "answered before its route was in"
        assert client.get("/health").status_code == 200  # and while requests wait for it
        gate.set()
        answers: list[httpx.Response] = [f.result(timeout=10) for f in waiting]
    assert [(a.status_code, a.json()) for a in answers] == [
        (200, {"items": 26}), (200, {"run": 1}), (200, {"items": 26})]
    assert later.ready.is_set()
    assert loads == [1], "loaded once however many requests waited"


def test_a_path_nobody_serves_is_still_404_and_a_wrong_method_405_once_loaded() -> None:
    app, later, gate, _ = _app_with_gated_later_routes()
    gate.set()
    with TestClient(app) as client:
        assert client.get("/no-such-thing").status_code == 404  # loads, routes again, finds nothing
        assert later.ready.is_set()
        assert client.get("/no-such-thing").status_code == 404
        assert client.delete("/checklist").status_code == 405


def _routes_of(group: tuple[str, ...]) -> list[Any]:
    """Each route of the group as FastAPI routes it (its whole path, methods and pattern)."""
    return [context for included in route_table(group) for context in included.effective_route_contexts()]  # type: ignore[attr-defined]  # FastAPI's included router


def _sample_paths(path: str) -> set[str]:
    """The route's path with its parameters filled: by digits (what an int parameter takes, and a str one too) and
    by letters (what only a str parameter takes)."""
    return {re.sub(r"{[^}]+}", value, path) for value in ("7", "x7")}


def test_no_route_of_either_group_matches_a_path_of_the_other() -> None:
    """Were one to, the later group's arrival would change which of the two answers a request."""
    groups = {"sale": _routes_of(SALE_ROUTERS), "later": _routes_of(LATER_ROUTERS)}
    assert len(groups["sale"]) > 50 and len(groups["later"]) > 50
    clashes = [f"{method} {route.path} ({mine}) is matched by {other.path} ({theirs})"
               for mine, theirs in (("sale", "later"), ("later", "sale"))
               for route in groups[mine] for method in route.methods for path in _sample_paths(route.path)
               for other in groups[theirs] if method in other.methods and other.path_regex.match(path)]
    assert clashes == []
    assert not set(SALE_ROUTERS) & set(LATER_ROUTERS)
