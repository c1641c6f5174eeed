"""No 5xx for anything a client can send: schemathesis against the service's own /openapi.json.

Each operation is called with the token of a post allowed to perform it, so the generated inputs
reach the handlers (and their rules), not just the permission check. Bounded examples keep CI fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.schemas import APIOperation
from sqlalchemy import Engine

from server.permissions import Action, allowed
from server.roles import Role
from server.services.context import Ctx
from tests.conftest import ROLE_PINS, add_role_users, seed_shop, till_login


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def fuzz_app(client: TestClient, engine: Engine, ctx: Ctx) -> Iterator[dict[str, Any]]:
    seed_shop(engine, ctx)  # a till, zones, items with stock: generated calls reach the selling rules
    add_role_users(engine, ctx)
    tokens = {role: till_login(client, f"u_{role}", pin) for role, pin in ROLE_PINS.items()}
    client.post("/shifts", json={"float_fen": 0}, headers=tokens["cashier"])
    actions = {(method.upper(), path): op.get("x-action")
               for path, item in client.get("/openapi.json").json()["paths"].items() for method, op in item.items()}
    yield {"app": client.app, "tokens": tokens, "actions": actions}


def _headers_for(fuzz_app: dict[str, Any], method: str, path: str) -> dict[str, str]:
    action = fuzz_app["actions"].get((method, path))
    if action in (None, "public"):
        return {}
    if action == "authenticated":
        return fuzz_app["tokens"]["cashier"]
    role = next(r for r in Role if allowed({r}, Action(action)))
    return fuzz_app["tokens"][role.value]


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def _loaded(result: Ok[APIOperation[Any, Any, Any, Any]] | Err[InvalidSchema]) -> APIOperation[Any, Any, Any, Any]:
    """An operation of the schema; one schemathesis could not read fails the test with its reason."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


SHARDS = 2  # the operations split over two tests, so the suite's two workers share them


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_server_error_and_responses_match_the_schema(fuzz_app: dict[str, Any], shard: int) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app["app"])
    operations = sorted((_loaded(r) for r in api.get_all_operations()), key=lambda op: (op.path, op.method))
    assert len(operations) >= 25
    for operation in operations[shard::SHARDS]:
        if operation.path == "/auth/logout":
            continue  # logging out would end the token the other operations use
        _fuzz(operation, _headers_for(fuzz_app, operation.method.upper(), operation.path),
              examples=STREAM_EXAMPLES if operation.path in STREAMS else HEAVY.get(operation.path, EXAMPLES))


EXAMPLES = 8  # per operation (~200 of them): what the suite's 15 minutes allow beside everything else
# A stream answers a valid call by streaming until its idle timeout (seconds a call): a few examples reach its
# validation; the stream itself is tested in tests/server/test_events.py.
STREAMS = {"/events"}
STREAM_EXAMPLES = 3
# A valid call runs the whole checklist and writes its file (seconds a call): a few examples reach its validation;
# the files themselves are tested in tests/reports/test_checklist_files.py.
HEAVY = {"/checklist/export": 3}


def _fuzz(operation: Any, headers: dict[str, str], examples: int) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
