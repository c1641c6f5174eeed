"""GET /devices and the demo's hands on the simulated devices: a scan from the demo reaches the owning
till's stream like a real one; the simulated printer can be taken offline and back; other device work
plugs in through register_device."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devices.base import DeviceSink, DeviceStatus, StatusBoard
from server import devices as device_manager
from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit
from server.events import EventHub
from server.services.context import Ctx
from server.services.sale import receipt
from tests.conftest import Shop, service_state
from tests.server.test_selling import new_sale, pay_cash, scan


@pytest.fixture
def backend() -> str:
    return "sqlite"


def replay(hub: EventHub, till: str) -> list[Any]:
    async def take() -> list[Any]:
        out = []
        agen = hub.subscribe(till, after=0).__aiter__()
        while True:
            try:
                out.append(await asyncio.wait_for(agen.__anext__(), 0.2))
            except TimeoutError:
                return out

    return asyncio.run(take())


def test_devices_are_listed_and_a_demo_scan_reaches_the_owning_till(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    listed = {d["name"]: d for d in c.get("/devices", headers=h).json()}
    assert listed["scanner"]["driver"] == "simulated" and listed["scanner"]["connected"] is True
    assert listed["printer"]["driver"] == "simulated"
    deadline = time.monotonic() + 10  # an idle printer is ready (✓ on the status bar), not unknown until a receipt
    while not (printer := c.get("/devices", headers=h).json()[1])["connected"]:
        assert time.monotonic() < deadline, printer
        time.sleep(0.05)
    assert printer["text"] == "打印机就绪" and printer["last_error"] is None
    assert service_state(c).events.states_for("T01")["printer"]["ok"] is True
    r = c.post("/devices/scanner/scan", json={"code": "6901234567892"}, headers=h)
    assert r.status_code == 200 and r.json() == {"delivered": True, "till_code": "T01"}
    junk = c.post("/devices/scanner/scan", json={"code": "\x00\x1b[A"}, headers=h)
    assert junk.json()["delivered"] is False  # dropped like line noise from a real scanner
    assert c.post("/devices/scanner/scan", json={"code": ""}, headers=h).status_code == 422
    hub = service_state(c).events
    scans = [e.data for e in replay(hub, "T01") if e.kind == "scan"]
    assert [(d["code"], d["kind"], d["source"]) for d in scans] == [("6901234567892", "gtin", "simulated")]
    after = {d["name"]: d for d in c.get("/devices", headers=h).json()}
    assert after["scanner"]["last_event"].startswith("dropped noise")  # the last thing it did, with the reason
    assert after["scanner"]["detail"] == {"scans": 1, "dropped": 1}
    assert c.post("/devices/scanner/scan", json={"code": "1"}, headers=shop["manager"]).status_code == 200


def test_the_simulated_printer_offline_and_back(shop: Shop, settings: Settings) -> None:
    c, h = shop["client"], shop["cashier"]
    assert c.post("/devices/printer/simulate", json={"online": False}, headers=h).status_code == 200
    sid = new_sale(c, h)
    scan(c, h, sid, "6902345678903")
    assert pay_cash(c, h, sid, 350, 500).status_code == 200
    state = service_state(c)
    with core_unit(state.engine) as u:
        job_id = id_of(receipt.enqueue_receipt(u, Ctx(state.store_id, settings), sid))

    def status_of(jid: int) -> str:
        return next(j["status"] for j in c.get("/print-jobs", headers=h).json() if j["id"] == jid)

    deadline = time.monotonic() + 10
    while "离线" not in (c.get("/devices", headers=h).json()[1]["last_error"] or ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status_of(job_id) == "pending"
    c.post("/devices/printer/simulate", json={"online": True}, headers=h)
    while status_of(job_id) != "printed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    slips = c.get("/devices/printer/paper", headers=h).json()  # the demo's paper: the receipt as text
    assert slips[0]["job_id"] == job_id and slips[0]["kind"] == "receipt" and "销售小票" in slips[0]["text"]
    assert state.devices is not None and state.devices.simulated_printer().drawer_kicks == 1  # the cash sale's drawer


def test_another_device_family_plugs_in_through_register_device(settings: Settings) -> None:
    class Lamp:
        name = "lamp"

        def __init__(self, sink: DeviceSink) -> None:
            self.board = StatusBoard("lamp", "simulated", sink)

        def start(self) -> None:
            self.board.connected("灯亮")

        def stop(self) -> None:
            pass

        def status(self) -> DeviceStatus:
            return self.board.current

    device_manager.register_device("lamp", lambda _settings, sink: Lamp(sink))
    try:
        from server.app import create_app

        app = create_app(settings)
        with TestClient(app):
            states = app.state.dingdian.events.states_for("T01")
            assert states["lamp"]["text"] == "灯亮"
            assert "lamp" in app.state.dingdian.devices.devices
        app.state.dingdian.engine.dispose()
    finally:
        device_manager._BUILDERS.pop("lamp", None)
