"""The card reader interface every driver implements, and the bookkeeping they share.

A reader is started with one callback; from then on it delivers card events (inserted with its
record, removed, failed) and its own status changes to it, from its own thread. It never raises
from `start` for a device problem — a missing reader, a stopped pcscd, a library that will not
load are reported as status, and the reader keeps trying — so the service starts regardless of
the hardware. `read()` reads the card now, for a flow that asks again (it raises a `CardError`).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, runtime_checkable

from devices.card.errors import CardError
from devices.card.events import CardCallback, CardEvent, CardFailed, CardInserted, CardRemoved, ReaderStatus
from devices.card.record import CardRecord

log = logging.getLogger("dingdian.devices.card")


@runtime_checkable
class CardReader(Protocol):
    driver: str

    def start(self, on_event: CardCallback) -> None: ...

    def stop(self) -> None: ...

    def read(self) -> CardRecord: ...

    def status(self) -> ReaderStatus: ...


def _ignore(_: CardEvent) -> None:
    pass


class ReaderBase:
    """Callback delivery and status tracking: a status event only when the status really changed,
    and a failing callback logged, never allowed to stop the reader's thread."""

    driver = "base"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._on_event: CardCallback = _ignore
        self._status = ReaderStatus(driver=self.driver, connected=False)

    def status(self) -> ReaderStatus:
        with self._lock:
            return self._status

    def _set_status(self, *, connected: bool, reader: str = "", card_present: bool = False,
                    error: CardError | None = None) -> None:
        new = ReaderStatus(self.driver, connected, reader, card_present, error)
        with self._lock:
            old = self._status
            self._status = new
        if old.public() != new.public():
            if error is not None and (old.error is None or old.error.as_dict() != error.as_dict()):
                log.warning("card reader %s: %s", reader or self.driver, error.message_en)
            self._emit(new)

    def _emit(self, event: CardEvent) -> None:
        if isinstance(event, CardInserted):
            log.info("card read on %s: %r", event.reader, event.record)  # repr masks the ID number
        elif isinstance(event, CardRemoved):
            log.info("card removed from %s", event.reader)
        elif isinstance(event, CardFailed):
            log.warning("card on %s not read: %s", event.reader, event.error.message_en)
        try:
            self._on_event(event)
        except Exception:
            log.exception("card event callback failed for %s", type(event).__name__)
