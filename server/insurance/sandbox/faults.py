"""Faults the sandbox centre can be told to inject (admin endpoint), each for the next N messages
of one transaction (or of any, when infno is empty):

- delay:           wait `delay_ms` before processing (the client may give up; the centre still acts)
- drop:            process and commit, then cut the connection before the answer is complete
- twice:           the message is delivered twice (a retrying gateway): processed twice, second answer sent
- error:           answer infcode/err_msg without processing
- refuse_sign_in:  9001 answers infcode -1 (the sign-in is refused)
- http_status:     the gateway answers with an HTTP status (e.g. 502, 401) without processing
- garble:          process and commit, then answer 200 with a body that is not JSON
- misstate:        process and commit, but answer a 2101/2102 total (medfee_sumamt) off by `offset_fen`
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

FaultKind = Literal["delay", "drop", "twice", "error", "refuse_sign_in", "http_status", "garble", "misstate"]
KINDS: tuple[str, ...] = ("delay", "drop", "twice", "error", "refuse_sign_in", "http_status", "garble", "misstate")


@dataclass
class Fault:
    kind: str
    infno: str = ""  # "" = any transaction
    times: int = 1
    delay_ms: int = 0
    infcode: int = -1
    err_msg: str = "模拟错误 / injected error"
    status: int = 502
    offset_fen: int = 0  # misstate

    def matches(self, infno: str) -> bool:
        if self.kind == "refuse_sign_in":
            return infno == "9001"
        return not self.infno or self.infno == infno

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self.applied: list[dict[str, Any]] = []  # what was injected, for tests to read back

    def add(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; one of {', '.join(KINDS)}")
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.append(fault)

    def take(self, infno: str, msgid: str) -> Fault | None:
        """The first queued fault for this transaction, used up once."""
        with self._lock:
            for f in self._queue:
                if f.matches(infno):
                    f.times -= 1
                    if f.times == 0:
                        self._queue.remove(f)
                    self.applied.append({"kind": f.kind, "infno": infno, "msgid": msgid})
                    return f
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._queue]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.applied.clear()
