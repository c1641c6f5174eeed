"""The card reader as one of the service's managed devices (`devices.base.Device`).

It starts and stops the configured reader with the service, turns its events into the till's
`card` events and its status into the status bar, and keeps the card last read — the whole record,
ID number included — in memory for the card-settlement flow (`current_card()`). Only the masked form
(`CardRecord.public`) leaves through the sink (SEC-06).
"""

from __future__ import annotations

import threading

from devices.base import DeviceSink, DeviceStatus, StatusBoard
from devices.card.errors import CardError, NotSimulatedError
from devices.card.events import CardEvent, CardFailed, CardInserted, CardRemoved, ReaderStatus
from devices.card.reader import CardReader
from devices.card.record import CardRecord
from devices.card.simulated import SimulatedCardReader

EVENT_KIND = "card"


def _both(error: CardError) -> str:
    return f"{error.message_zh} / {error.message_en}"


class CardReaderDevice:
    name = "card_reader"

    def __init__(self, reader: CardReader, sink: DeviceSink) -> None:
        self.reader = reader
        self.board = StatusBoard(self.name, reader.driver, sink)
        self._sink = sink
        self._lock = threading.Lock()
        self._current: CardRecord | None = None

    def start(self) -> None:
        self.board.update(text="读卡器启动中")
        self.reader.start(self._on_event)

    def stop(self) -> None:
        self.reader.stop()

    def status(self) -> DeviceStatus:
        return self.board.current

    def current_card(self) -> CardRecord | None:
        """The card in the reader as last read (whole record: for the settlement message only)."""
        with self._lock:
            return self._current

    def read_now(self) -> CardRecord:
        """Read the card again (the cashier's 读卡 key; the only way with the regional library).
        Raises CardError; the outcome also reaches the till as a `card` event."""
        return self.reader.read()

    def insert_demo(self, key: str = "employee") -> CardRecord:
        if not isinstance(self.reader, SimulatedCardReader):
            raise NotSimulatedError(self.reader.driver)
        return self.reader.insert_demo(key)

    def remove_demo(self) -> bool:
        if not isinstance(self.reader, SimulatedCardReader):
            raise NotSimulatedError(self.reader.driver)
        return self.reader.remove()

    def _on_event(self, event: CardEvent) -> None:
        if isinstance(event, ReaderStatus):
            self._on_status(event)
            return
        if isinstance(event, CardInserted):
            with self._lock:
                self._current = event.record
            self.board.event(f"读到社保卡 {event.record.card_no}", cards_read=self._count("cards_read"))
        elif isinstance(event, CardRemoved):
            with self._lock:
                self._current = None
            self.board.event("社保卡已拔出")
        elif isinstance(event, CardFailed):
            self.board.error(_both(event.error))
        self._sink.event(EVENT_KIND, event.public())

    def _on_status(self, status: ReaderStatus) -> None:
        detail = {**(self.board.current.detail or {}), "reader": status.reader, "card_present": status.card_present}
        if status.error is not None:
            self.board.disconnected(status.error.message_zh, _both(status.error))
            self.board.update(detail=detail)
        elif status.connected:
            text = "读卡器已连接，卡已插入" if status.card_present else "读卡器已连接"
            self.board.connected(text)
            self.board.update(detail=detail)
        else:
            self.board.update(connected=False, text="读卡器已停止", detail=detail)

    def _count(self, key: str) -> int:
        return int((self.board.current.detail or {}).get(key, 0)) + 1
