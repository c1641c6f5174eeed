"""The real PC/SC driver (pyscard) against pcscd with vsmartcard's vpcd and our virtual card.

Nothing here is mocked: pcscd polls the virtual card over TCP, pyscard talks to pcscd, the driver
reads the card with the same APDUs it would send to a real one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from devices.card.errors import (
    CardError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    PcscdNotRunningError,
)
from devices.card.events import CardEvent, CardFailed, CardInserted, CardRemoved, ReaderStatus
from devices.card.pcsc import PcscCardReader
from devices.card.pcsc_session import Context
from tests.devices.pcscd import READER, READER_PREFIX, Pcscd, wait_card
from tests.devices.vcard import CardFace, VirtualCard

pytestmark = pytest.mark.hardware

MakeCard = Callable[..., VirtualCard]
E = TypeVar("E", CardInserted, CardRemoved, CardFailed, ReaderStatus)


class Events:
    """The callback: collects events from the reader's thread; `wait_for` blocks until one matches."""

    def __init__(self) -> None:
        self.items: list[CardEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: CardEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: type[E], timeout: float = 5.0, after: int = 0,
                 where: Callable[[E], bool] | None = None) -> E:
        """The first event of `kind` (from index `after`) that `where` accepts; typed as that kind."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.items[after:]:
                    if isinstance(event, kind) and (where is None or where(event)):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind.__name__} within {timeout} s; got {self.items}")
                self._cond.wait(left)

    def cards(self) -> list[CardEvent]:
        with self._cond:
            return [e for e in self.items if not isinstance(e, ReaderStatus)]


@pytest.fixture
def watcher(pcscd: Pcscd) -> Iterator[tuple[PcscCardReader, Events]]:
    reader = PcscCardReader(READER_PREFIX)
    events = Events()
    reader.start(events)
    events.wait_for(ReaderStatus, where=lambda s: s.connected)
    yield reader, events
    reader.stop()


def test_a_card_put_in_is_read_once_and_its_removal_reported(watcher: tuple[PcscCardReader, Events],
                                                             card: MakeCard) -> None:
    reader, events = watcher
    face = CardFace()
    vc = card(face=face).insert()
    inserted = events.wait_for(CardInserted)
    assert isinstance(inserted, CardInserted) and inserted.reader == READER
    rec = inserted.record
    assert (rec.card_no, rec.card_sn, rec.name, rec.id_number, rec.region, rec.version) == (
        face.card_no, face.card_sn, face.name, face.id_number, "440300", "2.00")
    assert rec.source == "pcsc" and rec.valid_until == face.valid_until
    assert reader.status().card_present
    # the till's form of the event masks the ID number (SEC-06)
    public = repr(inserted.public())
    assert face.id_number not in public and "4403**********0014" in public
    vc.remove()
    events.wait_for(CardRemoved)
    assert [type(e) for e in events.cards()] == [CardInserted, CardRemoved]  # one read, no repeats
    assert not reader.status().card_present


def test_a_t0_card_gets_get_response_after_select_and_the_right_le_after_6cxx(
        watcher: tuple[PcscCardReader, Events], card: MakeCard) -> None:
    _, events = watcher
    long_name = "司马相如".encode("gbk").ljust(32, b"\0")  # 32 bytes on this card, 30 in the standard
    vc = card(t0=True, records={(6, 2): bytes([0x09, 32]) + long_name}).insert()
    inserted = events.wait_for(CardInserted)
    assert isinstance(inserted, CardInserted) and inserted.record.name == "司马相如"
    sent = [a.hex().upper() for a in vc.apdus]
    assert sent[1] == "00C0000013"  # SELECT answered 61 13 → GET RESPONSE for 0x13 bytes
    i = sent.index("00B2023420")
    assert sent[i + 1] == "00B2023422"  # 6C 22 → the same READ RECORD with Le 0x22


def test_a_wrong_status_word_is_named(watcher: tuple[PcscCardReader, Events], card: MakeCard) -> None:
    _, events = watcher
    card(sw_for={"read 6/1": 0x6982}).insert()
    failed = events.wait_for(CardFailed)
    assert isinstance(failed, CardFailed)
    err = failed.error.as_dict()
    assert err["code"] == "CARD_STATUS_WORD" and err["details"]["sw"] == "6982"
    assert "安全状态不满足" in err["message_zh"] and "security status not satisfied" in err["message_en"]
    assert "社会保障号码" in err["message_zh"]  # which command the card refused


def test_a_card_that_is_not_a_social_security_card(watcher: tuple[PcscCardReader, Events], card: MakeCard) -> None:
    _, events = watcher
    card(foreign=True).insert()
    failed = events.wait_for(CardFailed)
    assert isinstance(failed, CardFailed) and failed.error.code == "CARD_FOREIGN"


def test_a_card_pulled_out_mid_read_is_reported_as_such_then_as_removed(
        watcher: tuple[PcscCardReader, Events], card: MakeCard) -> None:
    reader, events = watcher
    card(remove_after=3).insert()  # answers SELECT and two READ RECORDs, then is gone
    failed = events.wait_for(CardFailed)
    assert isinstance(failed, CardFailed) and isinstance(failed.error, CardRemovedError)
    assert "读卡过程中卡被拔出" in failed.error.message_zh
    events.wait_for(CardRemoved)
    assert not any(isinstance(e, CardInserted) for e in events.cards())
    assert reader.status().error is None  # a pulled card is not a reader fault


def test_a_read_just_after_removal_never_returns_the_card(pcscd: Pcscd, card: MakeCard) -> None:
    """pcscd reads "present" for up to 0.4 s after a removal and may connect on the cached ATR."""
    vc = card().insert()
    wait_card(True)
    reader = PcscCardReader(READER)
    assert reader.read().card_no == vc.face.card_no
    vc.remove()
    with pytest.raises((CardRemovedError, NoCardError)):
        reader.read()


def test_read_with_no_card_and_with_no_such_reader(pcscd: Pcscd) -> None:
    with pytest.raises(NoCardError) as exc:
        PcscCardReader(READER).read()
    assert exc.value.code == "CARD_ABSENT" and "请插入社保卡" in exc.value.message_zh
    with pytest.raises(NoReaderError) as missing:
        PcscCardReader("Reader That Is Not There").read()
    assert "Reader That Is Not There" in missing.value.message_zh
    assert READER in missing.value.details["available"]


def test_a_configured_reader_that_is_missing_is_the_status_not_a_crash(pcscd: Pcscd) -> None:
    reader = PcscCardReader("Reader That Is Not There", retry_max_s=0.2)
    events = Events()
    reader.start(events)
    try:
        status = events.wait_for(ReaderStatus, where=lambda s: s.error is not None)
        assert isinstance(status, ReaderStatus) and not status.connected
        assert isinstance(status.error, NoReaderError)
        time.sleep(0.6)  # retries do not repeat the same status to the till
        assert len([e for e in events.items if isinstance(e, ReaderStatus)]) == 1
    finally:
        reader.stop()


def test_stop_returns_at_once_even_while_waiting(pcscd: Pcscd) -> None:
    reader = PcscCardReader(READER, poll_ms=60_000)
    events = Events()
    reader.start(events)
    events.wait_for(ReaderStatus, where=lambda s: s.connected)
    started = time.monotonic()
    reader.stop()
    assert time.monotonic() - started < 1.0
    assert not reader.status().connected


class LateContext(Context):
    """A watcher preempted between its look at the stop flag and its blocking wait."""

    preempted = threading.Event()

    def wait(self, states: list[tuple[str, int]], timeout_ms: int) -> tuple[int, list[tuple[str, int, bytes]]]:
        if states[0][1]:  # a wait that blocks (the first, from UNAWARE, answers at once)
            self.preempted.set()
            time.sleep(0.3)
        return super().wait(states, timeout_ms)


def test_stop_returns_at_once_even_when_it_cancels_before_the_wait(pcscd: Pcscd) -> None:
    LateContext.preempted.clear()
    reader = PcscCardReader(READER, poll_ms=60_000, context_factory=LateContext)
    reader.start(Events())
    assert LateContext.preempted.wait(5)
    started = time.monotonic()
    reader.stop()  # its cancel comes before the wait it must end
    assert time.monotonic() - started < 1.0
    assert not reader.status().connected


def test_a_failing_callback_does_not_stop_the_reader(pcscd: Pcscd, card: MakeCard) -> None:
    seen = Events()

    def callback(event: CardEvent) -> None:
        seen(event)
        if isinstance(event, CardInserted):
            raise RuntimeError("a bug in the consumer")

    reader = PcscCardReader(READER)
    reader.start(callback)
    try:
        vc = card().insert()
        seen.wait_for(CardInserted)
        vc.remove()
        seen.wait_for(CardRemoved)  # still watching after the callback blew up
    finally:
        reader.stop()


def test_pcscd_not_running_then_started_and_a_reader_unplugged_and_back(pcscd: Pcscd, card: MakeCard) -> None:
    """pcscd stopped = every reader gone; the watcher reports it, keeps trying, and picks the reader
    up again when it comes back — without being restarted."""
    vc = card().insert()
    wait_card(True)
    reader = PcscCardReader(READER_PREFIX, retry_max_s=0.3)
    events = Events()
    reader.start(events)
    try:
        events.wait_for(CardInserted)
        mark = len(events.items)
        pcscd.stop()
        events.wait_for(CardRemoved, after=mark)
        down = events.wait_for(ReaderStatus, after=mark, where=lambda s: s.error is not None)
        assert isinstance(down, ReaderStatus) and not down.connected
        assert down.error is not None and down.error.code in ("CARD_PCSCD_DOWN", "CARD_READER_GONE")
        events.wait_for(ReaderStatus, after=mark, where=lambda s: isinstance(s.error, PcscdNotRunningError))
        with pytest.raises(PcscdNotRunningError) as exc:
            reader.read()
        assert "pcscd" in exc.value.message_zh and "not running" in exc.value.message_en

        mark = len(events.items)
        pcscd.start()
        events.wait_for(ReaderStatus, after=mark, where=lambda s: s.connected and s.error is None)
        vc.remove()  # the old connection died with pcscd; put the card in again
        vc2 = card().insert()
        inserted = events.wait_for(CardInserted, after=mark)
        assert isinstance(inserted, CardInserted) and inserted.record.card_no == vc2.face.card_no
    finally:
        reader.stop()


def test_card_errors_speak_both_languages() -> None:
    for err in (NoReaderError(), NoReaderError("X"), CardRemovedError("R"), PcscdNotRunningError(), NoCardError("R")):
        body = err.as_dict()
        assert isinstance(err, CardError) and body["code"].startswith("CARD_")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"]) and body["message_en"].isascii()
