"""How a message travels: one POST of a JSON body, and what went wrong if no answer came.

The transport says only what it knows about delivery: NotSent (the request never left: safe to
retry), NoAnswer (it left, nothing came back in time) or Broken (it left, the answer was cut off).
The adapter turns those into the gateway's typed errors. The HTTP stack itself is in
server.insurance.httpx_transport, built when the first message is sent (see `Deferred`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


class NotSent(Exception):
    pass


class NoAnswer(Exception):
    pass


class Broken(Exception):
    pass


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply: ...

    def close(self) -> None: ...


class Deferred:
    """A transport built when the first message is sent.

    httpx with httpcore and an SSL context take about a tenth of a second to load and build: a service that
    may send no card message for an hour need not spend it before it answers its first request, nor compete
    with that request to build it in the background. The first message (usually the day's 9001 sign-in)
    waits for it once."""

    def __init__(self, build: Callable[[], Transport]) -> None:
        self._build = build
        self._built: Transport | None = None
        self._lock = threading.Lock()

    def _transport(self) -> Transport:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        return (self._built or self._transport()).post(url, body, headers, timeout)

    def close(self) -> None:
        with self._lock:
            if self._built is not None:
                self._built.close()
