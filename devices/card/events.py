"""What a card reader tells its owner: a card was read, a card was taken out, something failed, and
the reader's own state changed (connected or not). Delivered to one callback, from the reader's thread.

`public()` is the form that may leave the service's memory (the till's event stream, a log line):
the ID number is masked there (SEC-06). The whole record stays on `CardInserted.record`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.card.errors import CardError
from devices.card.record import CardRecord


@dataclass(frozen=True)
class CardInserted:
    reader: str
    record: CardRecord
    read_ms: float  # from seeing the card to the record decoded

    def public(self) -> dict[str, Any]:
        return {"event": "inserted", "reader": self.reader, "card": self.record.public(),
                "read_ms": round(self.read_ms, 2)}


@dataclass(frozen=True)
class CardRemoved:
    reader: str

    def public(self) -> dict[str, Any]:
        return {"event": "removed", "reader": self.reader}


@dataclass(frozen=True)
class CardFailed:
    reader: str
    error: CardError

    def public(self) -> dict[str, Any]:
        return {"event": "error", "reader": self.reader, "error": self.error.as_dict()}


@dataclass(frozen=True)
class ReaderStatus:
    """The reader as the status bar shows it. `error` is what keeps it from working, if anything."""

    driver: str
    connected: bool
    reader: str = ""
    card_present: bool = False
    error: CardError | None = None

    def public(self) -> dict[str, Any]:
        return {"driver": self.driver, "connected": self.connected, "reader": self.reader,
                "card_present": self.card_present, "error": self.error.as_dict() if self.error else None}


CardEvent = CardInserted | CardRemoved | CardFailed | ReaderStatus
CardCallback = Callable[[CardEvent], None]
