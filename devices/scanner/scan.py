"""From frames to scans: classify each clean frame by the catalog's rules and pass it to the till.

One pipeline for the serial driver and the simulated scanner, so a demo scan goes exactly the way a
real one does. A frame that is almost a code (a GTIN with a wrong check digit, 19 digits of a trace
code) is a mis-read and is dropped with its reason, never offered as an item code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from catalog.codes import ClassifiedCode, CodeKind, classify_code
from devices.base import DeviceSink, StatusBoard
from devices.scanner.framing import Dropped, Frame, Result

log = logging.getLogger("dingdian.devices.scanner")


def scan_event(code: ClassifiedCode, source: str) -> dict[str, Any]:
    """The `scan` event a till receives. A voucher token travels whole (the card flow needs it) and is
    marked secret, so no consumer logs it."""
    return {"code": code.code, "kind": code.kind.value, "gtin": code.gtin, "source": source,
            "secret": code.kind is CodeKind.VOUCHER, "at": datetime.now(UTC).isoformat(timespec="milliseconds")}


class ScanPipeline:
    def __init__(self, board: StatusBoard, sink: DeviceSink, source: str) -> None:
        self.board = board
        self.sink = sink
        self.source = source
        self.scans = 0
        self.dropped = 0

    def handle(self, results: Sequence[Result]) -> None:
        for result in results:
            if isinstance(result, Dropped):
                self._drop(result.describe())
                continue
            assert isinstance(result, Frame)
            code = classify_code(result.text)
            if code.kind is CodeKind.UNKNOWN and code.violations:
                self._drop(f"mis-read: {code.violations[0].message_en}")
                continue
            if code.kind is CodeKind.UNKNOWN and not code.code:
                continue
            self.scans += 1
            self.sink.event("scan", scan_event(code, self.source))
            self.board.event(f"{code.kind.value} {code.loggable}", scans=self.scans, dropped=self.dropped)

    def _drop(self, why: str) -> None:
        self.dropped += 1
        log.warning("scanner: frame dropped (%s)", why)
        self.board.event(f"dropped {why}", scans=self.scans, dropped=self.dropped)
