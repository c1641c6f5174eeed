"""The till's event stream: ordered, per till, resumable after a reconnect, over a real service."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest

from server.config import Settings
from server.events import EventHub
from tests.conftest import ROLE_PINS, Shop, till_login
from tests.service import start_service


async def _take(hub: EventHub, till: str, n: int, after: int | None = None) -> list:
    out = []
    async for event in hub.subscribe(till, after):
        out.append(event)
        if len(out) == n:
            return out
    return out


def test_events_from_threads_arrive_in_order_and_only_at_their_till() -> None:
    hub = EventHub()

    async def main() -> list:
        task = asyncio.create_task(_take(hub, "T01", 2000))
        await asyncio.sleep(0.01)
        workers = [threading.Thread(target=lambda k=k: [hub.publish("T01" if k == 0 else "T02", "scan", {"i": i})
                                                       for i in range(2000 if k == 0 else 50)]) for k in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return await asyncio.wait_for(task, 5)

    events = asyncio.run(main())
    assert [e.data["i"] for e in events] == list(range(2000))
    assert [e.seq for e in events] == list(range(1, 2001))


def test_a_reconnecting_till_gets_what_it_missed_and_is_told_of_a_gap() -> None:
    hub = EventHub(backlog=10)
    for i in range(5):
        hub.publish("T01", "scan", {"i": i})
    replay = asyncio.run(_take(hub, "T01", 3, after=2))
    assert [(e.seq, e.data["i"]) for e in replay] == [(3, 2), (4, 3), (5, 4)]
    for i in range(5, 30):
        hub.publish("T01", "scan", {"i": i})
    behind = asyncio.run(_take(hub, "T01", 2, after=3))
    assert behind[0].kind == "gap" and behind[0].data == {"missed_from": 4, "missed_to": 20}
    assert behind[1].seq == 21


def test_a_till_reconnecting_after_the_service_restarted_gets_the_new_runs_events() -> None:
    """The till's Last-Event-ID (57) is from the previous run; the restarted hub counts from 1 again."""
    hub = EventHub()
    hub.publish("T01", "scan", {"i": 0})
    replay = asyncio.run(_take(hub, "T01", 1, after=57))
    assert [(e.seq, e.kind, e.data) for e in replay] == [(1, "scan", {"i": 0})]


def test_state_is_kept_and_sent_to_every_till_of_the_store() -> None:
    hub = EventHub()
    hub.publish("T01", "scan", {})
    hub.publish("T02", "scan", {})
    hub.set_state(None, "insurance", {"ok": True, "text": "已签到"})
    hub.set_state("T01", "printer", {"ok": False, "text": "缺纸"})
    assert hub.states_for("T01") == {"insurance": {"ok": True, "text": "已签到"}, "printer": {"ok": False, "text": "缺纸"}}
    assert hub.states_for("T02") == {"insurance": {"ok": True, "text": "已签到"}}
    assert hub.last_seq("T02") == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sse_stream_over_the_service_requires_a_till_and_resumes(shop: Shop, settings: Settings,
                                                                 tmp_path: Path) -> None:
    base, stop = start_service(settings, tmp_path)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            headers = till_login(http, "u_cashier", ROLE_PINS["cashier"])
            assert http.get("/events").status_code == 401
            with http.stream("GET", "/events", headers=headers) as resp:
                assert resp.status_code == 200
                assert resp.headers["content-type"].startswith("text/event-stream")
                first = next(resp.iter_lines())
                assert first == "retry: 1000"
    finally:
        stop()
