"""The card reader inside the running service: started with it, shown by GET /devices, its cards
published to the owning till as `card` events (ID number masked), the whole record kept server-side."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from devices.card.demo_cards import demo_card
from server.errors import AppError
from server.events import EventHub, TillEvent
from tests.conftest import service_state


@pytest.fixture
def backend() -> str:  # the device wiring does not touch the database: one backend is enough
    return "sqlite"


def _events(hub: EventHub, till: str) -> list[TillEvent]:
    async def take() -> list[TillEvent]:
        out: list[TillEvent] = []
        last = hub.last_seq(till)
        if last == 0:
            return out
        async for event in hub.subscribe(till, after=0):
            out.append(event)
            if event.seq >= last:
                return out
        return out

    return asyncio.run(asyncio.wait_for(take(), 5))


def test_a_demo_card_reaches_the_owning_till_masked_and_stays_whole_on_the_server(
        client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    state = service_state(client)
    manager = state.devices
    assert manager is not None  # the simulated devices are on in the tests' config
    till = state.settings.till.code

    rows = client.get("/devices", headers=headers["manager"]).json()
    card_row = next(r for r in rows if r["name"] == "card_reader")
    assert card_row["driver"] == "simulated" and card_row["connected"] is True

    expected = demo_card("employee").record
    assert manager.current_card() is None
    assert manager.insert_demo_card("employee") == expected
    assert manager.current_card() == expected  # whole, for the settlement message

    cards = [e for e in _events(state.events, till) if e.kind == "card"]
    assert cards and cards[-1].data["event"] == "inserted"
    assert cards[-1].data["card"]["id_number_masked"] == expected.masked_id
    assert expected.id_number not in repr([e.data for e in _events(state.events, till)])  # SEC-06
    assert state.events.states_for(till)["card_reader"]["detail"]["card_present"] is True

    assert manager.read_card() == expected
    assert manager.remove_demo_card()
    assert manager.current_card() is None
    assert _events(state.events, till)[-1].data == {"event": "removed", "reader": "模拟读卡器 Simulated reader"}
    with pytest.raises(AppError) as no_card:
        manager.read_card()
    assert no_card.value.status == 409 and no_card.value.code == "CARD_ABSENT"
    with pytest.raises(AppError) as unknown:
        manager.insert_demo_card("nobody")
    assert unknown.value.status == 404 and "employee" in unknown.value.details["known"]
