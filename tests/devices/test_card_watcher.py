"""The PC/SC watcher's decisions for what vpcd cannot act out: a USB reader vanishing from pcscd's list
while pcscd keeps running, and a card pulled and put back between two status polls.

pcscd is replaced here by a small model of its status-change semantics (state word with the event
counter in the upper 16 bits, the PnP pseudo reader, cancel); everything else is the real driver.
The real stack's behaviour (pcscd stopping and returning, pulled cards, status words) is in
test_card_pcsc.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from devices.card.demo_cards import demo_card
from devices.card.errors import NoReaderError, ReaderGoneError
from devices.card.events import CardInserted, CardRemoved, ReaderStatus
from devices.card.pcsc import PcscCardReader
from devices.card.pcsc_session import CHANGED, E_CANCELLED, E_TIMEOUT, EMPTY, PNP_READER, PRESENT, Context
from devices.card.record import CardRecord
from tests.devices.test_card_pcsc import Events

UNKNOWN = 0x4
READER = "USB Reader 00 00"
RECORD = demo_card("employee").record


class World:
    """The readers plugged in and the card in the reader, as pcscd would report them."""

    def __init__(self, plugged: bool = True) -> None:
        self.cond = threading.Condition()
        self.readers = [READER] if plugged else []
        self.card = False
        self.counter = 0
        self.cancelled = False

    def change(self, *, plugged: bool | None = None, card: bool | None = None, events: int = 1) -> None:
        with self.cond:
            if plugged is not None:
                self.readers = [READER] if plugged else []
            if card is not None:
                self.card = card
                self.counter += events
            self.cond.notify_all()

    def state_of(self, reader: str) -> int:
        if reader == PNP_READER:
            return len(self.readers) << 16
        if reader not in self.readers:
            return UNKNOWN
        return (self.counter << 16) | (PRESENT if self.card else EMPTY)


class ModelContext(Context):
    def __init__(self, world: World) -> None:  # no pcscd: the model answers
        self.world = world

    def readers(self) -> list[str]:
        with self.world.cond:
            return list(self.world.readers)

    def wait(self, states: list[tuple[str, int]], timeout_ms: int) -> tuple[int, list[tuple[str, int, bytes]]]:
        w = self.world
        with w.cond:
            def answer() -> list[tuple[str, int, bytes]] | None:
                now = [(r, w.state_of(r)) for r, _ in states]
                if any(cur != known & ~CHANGED for (_, known), (_, cur) in zip(states, now, strict=True)):
                    return [(r, s | CHANGED, b"") for r, s in now]
                return None

            result = answer()
            if result is None and not w.cancelled:
                w.cond.wait_for(lambda: answer() is not None or w.cancelled, timeout_ms / 1000)
                result = answer()
            if w.cancelled:
                return E_CANCELLED, []
            return (0, result) if result is not None else (E_TIMEOUT, [])

    def cancel(self) -> None:
        with self.world.cond:
            self.world.cancelled = True
            self.world.cond.notify_all()

    def release(self) -> None:
        pass


class ModelReader(PcscCardReader):
    def _read(self, ctx: Context, reader: str) -> CardRecord:
        return RECORD


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def watched(world: World) -> Iterator[Events]:
    events = Events()
    reader = ModelReader(retry_min_s=0.05, retry_max_s=0.2, context_factory=lambda: ModelContext(world))
    reader.start(events)
    yield events
    reader.stop()


def _cards(events: Events) -> list[type]:
    return [type(e) for e in events.cards()]


def test_a_usb_reader_unplugged_and_plugged_back_is_picked_up_without_a_restart(world: World,
                                                                                watched: Events) -> None:
    watched.wait_for(ReaderStatus, where=lambda s: s.connected)
    world.change(card=True)
    watched.wait_for(CardInserted)
    mark = len(watched.items)
    world.change(plugged=False)
    watched.wait_for(CardRemoved, after=mark)
    gone = watched.wait_for(ReaderStatus, after=mark, where=lambda s: s.error is not None)
    assert isinstance(gone, ReaderStatus) and isinstance(gone.error, ReaderGoneError)
    assert "已断开" in gone.error.message_zh and READER in gone.error.message_en
    # while it stays away (several retries) the status keeps saying it was unplugged, not "no reader"
    time.sleep(0.5)
    assert watched.items[-1] is gone
    mark = len(watched.items)
    world.change(plugged=True)
    watched.wait_for(ReaderStatus, after=mark, where=lambda s: s.connected)
    watched.wait_for(CardInserted, after=mark)  # the card still in it is read again
    assert not any(isinstance(e, ReaderStatus) and isinstance(e.error, NoReaderError) for e in watched.items)
    assert _cards(watched) == [CardInserted, CardRemoved, CardInserted]


def test_a_card_pulled_and_put_back_between_two_polls_is_seen_as_both() -> None:
    world = World()
    events = Events()
    reader = ModelReader(context_factory=lambda: ModelContext(world))
    reader.start(events)
    try:
        events.wait_for(ReaderStatus, where=lambda s: s.connected)
        world.change(card=True)
        events.wait_for(CardInserted)
        world.change(card=True, events=2)  # out and in again: "present" both times, the counter moved by 2
        events.wait_for(CardInserted, after=len(events.items) - 1, where=lambda e: e is not events.cards()[0])
        assert _cards(events) == [CardInserted, CardRemoved, CardInserted]
    finally:
        reader.stop()


def test_no_reader_at_start_then_one_plugged_in() -> None:
    world = World(plugged=False)
    events = Events()
    reader = ModelReader(retry_min_s=0.05, retry_max_s=0.2, context_factory=lambda: ModelContext(world))
    reader.start(events)
    try:
        none = events.wait_for(ReaderStatus, where=lambda s: s.error is not None)
        assert isinstance(none, ReaderStatus) and isinstance(none.error, NoReaderError)
        assert none.error.message_zh == "未连接读卡器"
        world.change(plugged=True)
        up = events.wait_for(ReaderStatus, where=lambda s: s.connected)
        assert isinstance(up, ReaderStatus) and up.reader == READER  # no name configured: the first reader
    finally:
        reader.stop()
