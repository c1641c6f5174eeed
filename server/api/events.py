"""The till's event stream (server-sent events): scans from a serial scanner, card insertions,
device and insurance-link state. The till subscribes once after login and reconnects with
`Last-Event-ID` to get what it missed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from server.api.deps import Who, get_state, guarded
from server.api.selling import till_of
from server.events import EventHub, TillEvent
from server.permissions import Action

router = APIRouter(tags=["events"])
KEEPALIVE_SECONDS = 15.0


def sse_frame(event: TillEvent) -> bytes:
    body = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {body}\n\n".encode()


async def _frames(hub: EventHub, till_code: str, after: int | None, request: Request) -> AsyncIterator[bytes]:
    # Current device / link states first, so a fresh till can draw its status bar at once.
    yield b"retry: 1000\n\n"
    for name, state in hub.states_for(till_code).items():
        body = json.dumps({"name": name, **state}, ensure_ascii=False, separators=(",", ":"))
        yield f"event: state\ndata: {body}\n\n".encode()
    events = hub.subscribe(till_code, after)  # an async generator: its own iterator, and aclose()-able
    pending: asyncio.Task[TillEvent] | None = None
    try:
        while not await request.is_disconnected():
            pending = pending or asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield b": keep-alive\n\n"
                continue
            event, pending = pending.result(), None
            yield sse_frame(event)
    finally:
        if pending is not None and not pending.done():
            # Cancelling the running __anext__ ends the generator (its finally unsubscribes); aclose() on a
            # generator that is running raises, and an await here would be cancelled with the request anyway.
            pending.cancel()
        else:
            await events.aclose()


@router.get("/events", **guarded(Action.SALE_READ, responses={200: {"content": {"text/event-stream": {}}}}))
async def till_events(request: Request, who: Who,
                      last_event_id: Annotated[int | None, Header(ge=0, le=2**53)] = None) -> Any:
    """This till's events as text/event-stream; `Last-Event-ID` resumes after the last one seen."""
    hub, till = get_state(request).events, till_of(who)
    # A new stream starts at this request, not at whenever the response's body begins (after its headers are
    # sent, later still on a loaded machine): what happens in between is replayed from the backlog, not lost.
    after = last_event_id if last_event_id is not None else hub.last_seq(till)
    return StreamingResponse(_frames(hub, till, after, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
