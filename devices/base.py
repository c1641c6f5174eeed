"""What every device driver shares: its status (connected, last event, last error) and the sink it reports to.

Drivers know no server: the service hands each one a `DeviceSink` that forwards events to the till that
owns the device and shows its status there. A driver updates its `StatusBoard`; the board tells the sink.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    name: str  # scanner | printer | card_reader …
    driver: str  # simulated | serial | network | usb | pcsc …
    connected: bool = False
    text: str = ""  # the status bar's words, Chinese
    last_event: str | None = None  # loggable: a voucher token is never here
    last_event_at: str | None = None
    last_error: str | None = None  # "中文 / English"
    last_error_at: str | None = None
    detail: dict[str, Any] | None = None  # e.g. the printer's pending jobs

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_state(self) -> dict[str, Any]:
        """The till's status-bar state (`EventHub.set_state`): ok + text, plus the rest."""
        return {"ok": self.connected and self.last_error is None, **self.as_dict()}


class DeviceSink(Protocol):
    """Where a device reports: events for its till, and its status."""

    def event(self, kind: str, data: dict[str, Any]) -> None: ...

    def status(self, status: DeviceStatus) -> None: ...


class NullSink:
    def event(self, kind: str, data: dict[str, Any]) -> None:
        pass

    def status(self, status: DeviceStatus) -> None:
        pass


class Device(Protocol):
    """A managed device: started and stopped with the service, asked for its status by GET /devices."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> DeviceStatus: ...


class StatusBoard:
    """A device's current status, updated from its thread; every change is pushed to the sink."""

    def __init__(self, name: str, driver: str, sink: DeviceSink) -> None:
        self._lock = threading.Lock()
        self._status = DeviceStatus(name, driver)
        self._sink = sink

    @property
    def current(self) -> DeviceStatus:
        with self._lock:
            return self._status

    def update(self, **changes: Any) -> DeviceStatus:
        with self._lock:
            new = replace(self._status, **changes)
            changed = new != self._status
            self._status = new
        if changed:
            self._sink.status(new)
        return new

    def connected(self, text: str) -> DeviceStatus:
        return self.update(connected=True, text=text, last_error=None, last_error_at=None)

    def disconnected(self, text: str, error: str) -> DeviceStatus:
        now = self.current
        if not now.connected and now.text == text and now.last_error == error:
            return now  # the same failure again (a retry): no new status-bar event
        return self.update(connected=False, text=text, last_error=error, last_error_at=now_iso())

    def error(self, error: str, text: str | None = None) -> DeviceStatus:
        return self.update(last_error=error, last_error_at=now_iso(), **({"text": text} if text else {}))

    def event(self, summary: str, **counters: Any) -> DeviceStatus:
        """An event happened (a scan, a printed job). Not pushed as a state change: a burst of 1,000 scans
        would be 1,000 status-bar redraws. GET /devices reads it."""
        with self._lock:
            detail = {**(self._status.detail or {}), **counters} if counters else self._status.detail
            self._status = replace(self._status, last_event=summary, last_event_at=now_iso(), detail=detail)
            return self._status
