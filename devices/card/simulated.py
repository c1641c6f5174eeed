"""The simulated card reader (demo and tests): a card is "inserted" by a call, not by a hand.

`insert_demo("employee")` puts a demo card in (see `demo_cards`); `remove()` takes it out. Events
go to the callback at once, on the caller's thread, exactly as the real drivers deliver them.
"""

from __future__ import annotations

import threading

from devices.card.demo_cards import demo_card
from devices.card.errors import NoCardError
from devices.card.events import CardCallback, CardInserted, CardRemoved
from devices.card.reader import ReaderBase
from devices.card.record import CardRecord

READER = "模拟读卡器 Simulated reader"


class SimulatedCardReader(ReaderBase):
    driver = "simulated"

    def __init__(self) -> None:
        super().__init__()
        self._card: CardRecord | None = None
        self._started = False
        self._insert_lock = threading.Lock()

    def start(self, on_event: CardCallback) -> None:
        self._on_event = on_event
        self._started = True
        self._set_status(connected=True, reader=READER, card_present=self._card is not None)

    def stop(self) -> None:
        self._started = False
        self._set_status(connected=False, reader=READER)

    def read(self) -> CardRecord:
        card = self._card
        if card is None:
            raise NoCardError(READER)
        self._emit(CardInserted(READER, card, 0.0))
        return card

    def insert(self, record: CardRecord) -> None:
        """A card goes in (a card already in is taken out first, as a hand would)."""
        with self._insert_lock:
            if self._card is not None:
                self._take_out()
            self._card = record
            self._set_status(connected=self._started, reader=READER, card_present=True)
            self._emit(CardInserted(READER, record, 0.0))

    def insert_demo(self, key: str = "employee") -> CardRecord:
        record = demo_card(key).record
        self.insert(record)
        return record

    def remove(self) -> bool:
        """Take the card out; False if there was none."""
        with self._insert_lock:
            if self._card is None:
                return False
            self._take_out()
            return True

    def _take_out(self) -> None:
        self._card = None
        self._set_status(connected=self._started, reader=READER)
        self._emit(CardRemoved(READER))
