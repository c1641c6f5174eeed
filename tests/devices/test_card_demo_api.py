"""The demo's hands on the simulated card reader over HTTP: a demo card inserted with
POST /devices/card/insert reaches the owning till's event stream as a `card` event with the ID
number masked (SEC-06); read and remove work like the 读卡 key and a hand; what cannot be done is a
4xx naming why, in Chinese and English — never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devices.card.demo_cards import DEMO_CARDS, demo_card
from server.api.events import sse_frame
from server.config import Settings
from server.devices import DeviceManager
from server.events import EventHub, TillEvent
from tests.conftest import ROLE_PINS, add_role_users, login, make_settings, service_state
from tests.server.test_permissions import _ops


@pytest.fixture
def backend() -> str:  # the reader's routes do not touch the database: one backend is enough
    return "sqlite"


def replay(hub: EventHub, till: str) -> list[TillEvent]:
    async def take() -> list[TillEvent]:
        out: list[TillEvent] = []
        agen = hub.subscribe(till, after=0).__aiter__()
        while True:
            try:
                out.append(await asyncio.wait_for(agen.__anext__(), 0.2))
            except TimeoutError:
                return out

    return asyncio.run(take())


def device_manager(client: TestClient) -> DeviceManager:
    manager = service_state(client).devices
    assert manager is not None  # the simulated devices are on in the tests' config
    return manager


def card_events(client: TestClient, till: str = "T01") -> list[TillEvent]:
    return [e for e in replay(service_state(client).events, till) if e.kind == "card"]


def test_a_demo_card_inserted_from_the_demo_reaches_the_till_masked(
        client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    h = headers["cashier"]
    record = demo_card("resident").record
    r = client.post("/devices/card/insert", json={"key": "resident"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["card_no"] == record.card_no and body["card_sn"] == record.card_sn and body["name"] == "王秀英"
    assert body["id_number_masked"] == record.masked_id and record.id_number not in r.text  # SEC-06

    events = card_events(client)
    assert [e.data["event"] for e in events] == ["inserted"]
    sent = events[0]
    assert sent.data["card"]["card_no"] == record.card_no
    assert sent.data["card"]["id_number_masked"] == record.masked_id
    wire = sse_frame(sent).decode()  # what the till receives on GET /events
    assert "event: card\n" in wire and record.masked_id in wire and record.id_number not in wire
    assert card_events(client, "T02") == []  # only the till that owns the reader hears it

    # the whole record stays on the server for the settlement message (the identify-by-reader flow)
    assert device_manager(client).current_card() == record
    listed = {d["name"]: d for d in client.get("/devices", headers=h).json()}
    assert listed["card_reader"]["detail"]["card_present"] is True
    assert record.id_number not in repr(listed)


def test_read_again_then_remove_then_nothing_to_read(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    h = headers["cashier"]
    assert client.post("/devices/card/insert", json={}, headers=h).json()["name"] == "周德明"  # employee by default (not a pharmacist's name)
    again = client.post("/devices/card/read", headers=h)
    assert again.status_code == 200 and again.json()["card_no"] == DEMO_CARDS["employee"].record.card_no
    # inserting another card takes the first one out, as a hand would
    assert client.post("/devices/card/insert", json={"key": "resident"}, headers=h).status_code == 200
    assert [e.data["event"] for e in card_events(client)] == ["inserted", "inserted", "removed", "inserted"]

    out = client.post("/devices/card/remove", headers=h)
    assert out.status_code == 200 and out.json() == {"removed": True}
    assert client.post("/devices/card/remove", headers=h).json() == {"removed": False}  # already empty
    assert card_events(client)[-1].data["event"] == "removed"
    assert device_manager(client).current_card() is None

    nothing = client.post("/devices/card/read", headers=h)
    assert nothing.status_code == 409
    err = nothing.json()
    assert err["code"] == "CARD_ABSENT" and "插入社保卡" in err["message_zh"] and "insert" in err["message_en"]


def test_an_unknown_demo_card_is_refused_naming_the_known_ones(
        client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    r = client.post("/devices/card/insert", json={"key": "nobody"}, headers=headers["cashier"])
    assert r.status_code == 404
    err = r.json()
    assert "nobody" in err["message_zh"] and "nobody" in err["message_en"]
    assert set(err["details"]["known"]) == set(DEMO_CARDS)
    assert client.post("/devices/card/insert", json={"key": ""}, headers=headers["cashier"]).status_code == 422
    assert client.post("/devices/card/insert", json={"key": "x" * 41}, headers=headers["cashier"]).status_code == 422
    assert card_events(client) == []


@pytest.mark.refuses("SEC-01")
def test_only_posts_allowed_to_drive_the_demo_may_insert(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    """SEC-01: the system administrator may look at the reader but not drive the demo."""
    refused = client.post("/devices/card/insert", json={"key": "employee"}, headers=headers["sysadmin"])
    assert refused.status_code == 403 and refused.json()["code"] == "SEC-01"
    assert client.post("/devices/card/remove", headers=headers["sysadmin"]).status_code == 403
    assert client.post("/devices/card/read", headers=headers["sysadmin"]).json()["code"] == "CARD_ABSENT"
    assert client.post("/devices/card/insert", json={"key": "employee"}).status_code == 401
    assert card_events(client) == []
    actions = {(op.method, op.path): op.action for op in _ops(client)}
    assert actions[("POST", "/devices/card/insert")] == "device.demo"
    assert actions[("POST", "/devices/card/remove")] == "device.demo"
    assert actions[("POST", "/devices/card/read")] == "device.read"


def test_a_real_reader_cannot_be_driven_from_the_demo(db_url: str, tmp_path: Any) -> None:
    """The regional library driver configured (and its library missing): inserting or removing a demo
    card is a 409 saying the reader is real; reading names the library's fault — no 500."""
    from server.app import create_app

    missing = str(tmp_path / "libHeaSecReadInfo.so")
    settings: Settings = make_settings(db_url, devices={"card_reader": "sdk", "card_sdk_library": missing})
    app = create_app(settings)
    state = app.state.dingdian
    from server.services.context import Ctx
    from server.services.store.profile import bootstrap_store

    with TestClient(app) as client:
        add_role_users(state.engine, Ctx(bootstrap_store(state.engine, settings), settings))
        h = login(client, "u_cashier", ROLE_PINS["cashier"])
        for path, body in (("/devices/card/insert", {"key": "employee"}), ("/devices/card/remove", None)):
            r = client.post(path, json=body, headers=h)
            assert r.status_code == 409, r.text
            err = r.json()
            assert err["code"] == "DEVICE-NOT-SIMULATED" and err["details"] == {"device": "card_reader"}
            assert "读卡器" in err["message_zh"] and "real device" in err["message_en"]
        read = client.post("/devices/card/read", headers=h)
        assert read.status_code == 409, read.text
        assert read.json()["code"].startswith("CARD_") and read.json()["message_zh"] and read.json()["message_en"]
        assert [e.data["event"] for e in card_events(client)] == ["error"]  # the till is told why, too
    state.engine.dispose()
