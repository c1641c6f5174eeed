"""The simulated reader, the demo cards, and the card reader as a managed device (status + till events)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from devices.base import DeviceStatus
from devices.card.demo_cards import DEMO_CARDS, by_card_no, demo_card
from devices.card.device import CardReaderDevice
from devices.card.errors import NoCardError, NotSimulatedError, SdkError
from devices.card.events import CardEvent, CardFailed, CardInserted, CardRemoved, ReaderStatus
from devices.card.sdk import SdkCardReader
from devices.card.simulated import SimulatedCardReader

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[DeviceStatus] = []

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)


def test_demo_cards_are_well_formed_and_match_the_demo_store() -> None:
    assert {c.insutype for c in DEMO_CARDS.values()} == {"310", "390"}
    seen = set()
    for card in DEMO_CARDS.values():
        r = card.record
        body, check = r.id_number[:17], r.id_number[17]
        assert "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11] == check
        assert r.card_sn[:6] == r.region == "440300" and r.card_sn[6:16] == "D156000005" and len(r.card_sn) == 32
        assert len(r.card_no) == 9 and r.card_no.isalnum()
        assert by_card_no(r.card_no) is card and by_card_no(f"{r.card_no}|busi") is card
        seen.add(r.card_no)
    assert len(seen) == len(DEMO_CARDS)
    with pytest.raises(KeyError, match="employee"):
        demo_card("nobody")


def test_the_simulated_reader_delivers_what_a_real_one_would() -> None:
    events: list[CardEvent] = []
    reader = SimulatedCardReader()
    reader.start(events.append)
    with pytest.raises(NoCardError):
        reader.read()
    first = reader.insert_demo("employee")
    second = reader.insert_demo("resident")  # a card already in comes out first, as a hand would do it
    assert reader.read() == second
    assert reader.remove() and not reader.remove()
    cards = [(type(e).__name__, getattr(e, "record", None)) for e in events if not isinstance(e, ReaderStatus)]
    assert cards == [("CardInserted", first), ("CardRemoved", None), ("CardInserted", second),
                     ("CardInserted", second), ("CardRemoved", None)]
    assert reader.status().connected and not reader.status().card_present


def test_the_device_sends_the_till_a_masked_card_and_keeps_the_whole_record(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink = Sink()
    device = CardReaderDevice(SimulatedCardReader(), sink)
    device.start()
    assert device.status().connected and device.status().driver == "simulated"
    record = device.insert_demo("resident")
    assert device.current_card() == record  # whole: for the settlement message
    kind, data = sink.events[-1]
    assert kind == "card" and data["event"] == "inserted"
    assert data["card"]["card_no"] == record.card_no and data["card"]["id_number_masked"] == record.masked_id
    everything_shown = repr(sink.events) + repr(sink.statuses) + caplog.text + repr(device.status())
    assert record.id_number not in everything_shown  # SEC-06: not in events, statuses or logs
    assert device.status().last_event == f"读到社保卡 {record.card_no}"
    assert device.status().detail == {"reader": "模拟读卡器 Simulated reader", "card_present": True,
                                      "cards_read": 1}
    assert device.remove_demo()
    assert device.current_card() is None and sink.events[-1] == ("card", {"event": "removed",
                                                                          "reader": "模拟读卡器 Simulated reader"})
    device.stop()
    assert not device.status().connected


def test_a_failure_reaches_the_till_and_the_status_bar_in_both_languages(tmp_path: Any) -> None:
    sink = Sink()
    device = CardReaderDevice(SdkCardReader(str(tmp_path / "libmissing.so")), sink)
    device.start()  # a library that will not load: the service still starts
    status = device.status()
    assert not status.connected and status.last_error is not None
    assert "读卡库加载失败" in status.last_error and "card library loading failed" in status.last_error
    with pytest.raises(SdkError):
        device.read_now()
    kind, data = sink.events[-1]
    assert kind == "card" and data["event"] == "error" and data["error"]["code"] == "CARD_SDK"


def test_a_demo_card_goes_only_into_the_simulated_reader(tmp_path: Any) -> None:
    device = CardReaderDevice(SdkCardReader(str(tmp_path / "lib.so")), Sink())
    with pytest.raises(NotSimulatedError) as exc:
        device.insert_demo()
    assert "演示卡" in exc.value.message_zh and "demo card" in exc.value.message_en


def test_event_forms_mask_the_id_number() -> None:
    record = demo_card().record
    for event in (CardInserted("R", record, 1.234), CardRemoved("R"), CardFailed("R", NoCardError("R"))):
        assert record.id_number not in repr(event) + repr(event.public())
    assert CardInserted("R", record, 1.234).public()["read_ms"] == 1.23
