"""The back office loaded after the service answers (server.api.routers): a request meanwhile waits for it rather
than being told 404, the loading happens once, and the two groups' routes never compete for a path, so appending one
later routes every request as including both at once would."""

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

from server.api.routers import BACK_OFFICE, COUNTER, BackOffice, route_table


def _app_with_a_gated_back_office() -> tuple[FastAPI, BackOffice, threading.Event, list[int]]:
    app = FastAPI()
    counter = APIRouter()
    counter.get("/health")(lambda: {"status": "ok"})
    app.include_router(counter)
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

    return app, BackOffice(app, routes), gate, loads


def test_a_request_for_the_back_office_waits_for_it_and_is_answered_not_404() -> None:
    app, back_office, gate, loads = _app_with_a_gated_back_office()
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        assert client.get("/health").json() == {"status": "ok"}  # the counter answers while the office is out
        waiting = [pool.submit(client.get, "/checklist"), pool.submit(client.post, "/checklist/runs"),
                   pool.submit(client.get, "/checklist")]
        time.sleep(0.3)
        assert not any(f.done() for f in waiting), "answered before the back office was in"
        assert client.get("/health").status_code == 200  # and while requests wait for it
        gate.set()
        answers: list[httpx.Response] = [f.result(timeout=10) for f in waiting]
    assert [(a.status_code, a.json()) for a in answers] == [
        (200, {"items": 26}), (200, {"run": 1}), (200, {"items": 26})]
    assert back_office.ready.is_set()
    assert loads == [1], "the back office is loaded once however many requests waited for it"


def test_a_path_nobody_serves_is_still_404_and_a_wrong_method_405_once_loaded() -> None:
    app, back_office, gate, _ = _app_with_a_gated_back_office()
    gate.set()
    with TestClient(app) as client:
        assert client.get("/no-such-thing").status_code == 404  # loads, routes again, finds nothing
        assert back_office.ready.is_set()
        assert client.get("/no-such-thing").status_code == 404
        assert client.delete("/checklist").status_code == 405


def _routes_of(group: tuple[str, ...]) -> list[Any]:
    """Each route of the group as FastAPI routes it (its whole path, methods and pattern)."""
    return [context for included in route_table(group) for context in included.effective_route_contexts()]  # type: ignore[attr-defined]  # FastAPI's included router


def _sample_paths(path: str) -> set[str]:
    """The route's path with its parameters filled: by digits (what an int parameter takes, and a str one too) and
    by letters (what only a str parameter takes)."""
    return {re.sub(r"{[^}]+}", value, path) for value in ("7", "x7")}


def test_no_route_of_the_counter_and_the_back_office_matches_a_path_of_the_other() -> None:
    """Were one to, the back office's late arrival would change which of the two answers a request."""
    groups = {"counter": _routes_of(COUNTER), "back office": _routes_of(BACK_OFFICE)}
    assert len(groups["counter"]) > 50 and len(groups["back office"]) > 50
    clashes = [f"{method} {route.path} ({mine}) is matched by {other.path} ({theirs})"
               for mine, theirs in (("counter", "back office"), ("back office", "counter"))
               for route in groups[mine] for method in route.methods for path in _sample_paths(route.path)
               for other in groups[theirs] if method in other.methods and other.path_regex.match(path)]
    assert clashes == []
    assert not set(COUNTER) & set(BACK_OFFICE)
