"""Till events: what the service's devices and background work tell a till (a scan from a serial
scanner, a card inserted, a device's state, the insurance centre's sign-in state).

One hub per service. Producers call `publish` from any thread (a device's reader thread, a request
handler); each till subscribes to its own stream over server-sent events (`GET /events`). Every
event carries a per-till sequence number, and the hub keeps the last `backlog` events of each till,
so a till that reconnects with the last number it saw (`Last-Event-ID`) gets what it missed.
A till that falls further behind than the backlog is told so (`gap` event) rather than silently
given a partial stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TillEvent:
    seq: int
    kind: str  # scan | card | device | insurance | gap | ...
    data: dict[str, Any]


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[TillEvent]


@dataclass
class _TillStream:
    seq: int = 0
    recent: deque[TillEvent] = field(default_factory=deque)
    subscribers: list[_Subscriber] = field(default_factory=list)


class EventHub:
    def __init__(self, backlog: int = 4096) -> None:
        self._backlog = backlog
        self._lock = threading.Lock()
        self._tills: dict[str, _TillStream] = {}
        # The latest state of each device / link, per till; `None` till key = the whole store.
        self._states: dict[tuple[str | None, str], dict[str, Any]] = {}

    def _stream(self, till_code: str) -> _TillStream:
        stream = self._tills.get(till_code)
        if stream is None:
            stream = self._tills[till_code] = _TillStream(recent=deque(maxlen=self._backlog))
        return stream

    def publish(self, till_code: str, kind: str, data: dict[str, Any]) -> TillEvent:
        """Thread-safe: append the event to the till's stream and wake its subscribers."""
        with self._lock:
            stream = self._stream(till_code)
            stream.seq += 1
            event = TillEvent(stream.seq, kind, data)
            stream.recent.append(event)
            subscribers = list(stream.subscribers)
        for sub in subscribers:
            try:
                sub.loop.call_soon_threadsafe(sub.queue.put_nowait, event)
            except RuntimeError:  # that subscriber's loop has closed; it is removed when its iterator ends
                pass
        return event

    def set_state(self, till_code: str | None, name: str, state: dict[str, Any]) -> None:
        """Record a device's / link's state (shown in the till's status bar) and tell the till(s)."""
        with self._lock:
            self._states[(till_code, name)] = state
            targets = [till_code] if till_code is not None else list(self._tills)
        for code in targets:
            self.publish(code, "state", {"name": name, **state})

    def states_for(self, till_code: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(state) for (code, name), state in self._states.items() if code in (None, till_code)}

    def last_seq(self, till_code: str) -> int:
        with self._lock:
            return self._stream(till_code).seq

    async def subscribe(self, till_code: str, after: int | None = None) -> AsyncGenerator[TillEvent, None]:
        """The till's events from `after` (exclusive) on; from now if `after` is None. Never ends by itself."""
        sub = _Subscriber(asyncio.get_running_loop(), asyncio.Queue())
        with self._lock:
            stream = self._stream(till_code)
            replay: list[TillEvent] = []
            if after is not None and after > stream.seq:
                after = 0  # an id from before the service restarted: everything of this run is new to the till
            if after is not None and after < stream.seq:
                replay = [e for e in stream.recent if e.seq > after]
                oldest = replay[0].seq if replay else stream.seq + 1
                if oldest > after + 1:
                    replay.insert(0, TillEvent(after, "gap", {"missed_from": after + 1, "missed_to": oldest - 1}))
            stream.subscribers.append(sub)
        try:
            for event in replay:
                yield event
            last = replay[-1].seq if replay else (after if after is not None else -1)
            while True:
                event = await sub.queue.get()
                if event.seq > last:  # an event published while replaying is queued too: skip the repeat
                    last = event.seq
                    yield event
        finally:
            with self._lock:
                stream.subscribers.remove(sub)
