"""The real card reader on PC/SC (pcscd + pyscard): watches one reader, reads each card put in.

One thread per reader. It waits on pcscd's status change for the reader (and the PnP pseudo
reader, so a reader plugged back in is seen at once), reads the card when it appears, and reports
its removal. It survives what real installations do:

- pcscd not running, or restarted: the context is re-established with backoff (0.2 s → 2 s);
- the reader unplugged: reported as gone, and picked up again when plugged back in — no restart;
- a card pulled out mid-read: `CardRemovedError`, then the removal once pcscd notices it;
- the state still reading "present" for up to 0.4 s after a removal: a connect may even succeed on
  the cached ATR, so presence is never taken as proof — only a completed read is;
- a quick remove-and-insert between two polls: told apart by pcscd's event counter (upper 16 bits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from devices.card.errors import (
    CardError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    ReaderGoneError,
    UnreadableCardError,
)
from devices.card.events import CardCallback, CardFailed, CardInserted, CardRemoved
from devices.card.pcsc_session import (
    CHANGED,
    E_CANCELLED,
    E_TIMEOUT,
    GONE_STATES,
    MUTE,
    PNP_READER,
    PRESENT,
    READER_LOST,
    S_SUCCESS,
    Connection,
    Context,
    error_for,
    pcsc_message,
)
from devices.card.reader import ReaderBase
from devices.card.record import CardRecord
from devices.card.ssc import read_card

UNAWARE = 0


class PcscCardReader(ReaderBase):
    driver = "pcsc"

    def __init__(self, reader_name: str = "", *, poll_ms: int = 1000, retry_min_s: float = 0.2,
                 retry_max_s: float = 2.0, context_factory: Callable[[], Context] = Context) -> None:
        super().__init__()
        self.reader_name = reader_name
        # A seam for what the virtual reader cannot do (vanish from pcscd's list while pcscd runs).
        self._new_context = context_factory
        self._poll_ms = poll_ms
        self._retry = (retry_min_s, retry_max_s)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: Context | None = None
        self._present_in = ""  # the reader holding the card we reported, "" when none

    # --- the interface -------------------------------------------------------------------------

    def start(self, on_event: CardCallback) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("card reader already started")
        self._on_event = on_event
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"card-reader-{self.reader_name or 'first'}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        thread, deadline = self._thread, time.monotonic() + 5
        # A cancel wakes only a wait already under way: the watcher may be between its look at
        # `_stopping` and its next wait (or still making its context), so cancel until it is gone.
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            ctx = self._ctx
            if ctx is not None:
                ctx.cancel()
            thread.join(timeout=0.05)
        self._thread = None

    def read(self) -> CardRecord:
        """Read the card in the reader now, on a context of the caller's thread."""
        ctx = self._new_context()
        try:
            return self._read(ctx, ctx.pick(self.reader_name))
        finally:
            ctx.release()

    # --- the watcher ---------------------------------------------------------------------------

    def _read(self, ctx: Context, reader: str) -> CardRecord:
        conn = Connection(ctx, reader)
        try:
            return read_card(conn, conn.atr, source=self.driver)
        finally:
            conn.close()

    def _run(self) -> None:
        delay = self._retry[0]
        while not self._stopping.is_set():
            reader = self.reader_name
            try:
                if self._ctx is None:
                    self._ctx = self._new_context()
                reader = self._ctx.pick(self.reader_name)
                delay = self._retry[0]
                self._watch(self._ctx, reader)
            except CardError as exc:
                self._lost(reader, exc)
                if isinstance(exc, NoReaderError) and self._ctx is not None:
                    self._wait_for_readers(self._ctx, delay)
                else:
                    self._stopping.wait(delay)
                delay = min(delay * 2, self._retry[1])
        self._release()
        self._set_status(connected=False, reader=self.status().reader)

    def _lost(self, reader: str, exc: CardError) -> None:
        if self._present_in:
            self._emit(CardRemoved(self._present_in))
            self._present_in = ""
        if exc.code == "CARD_PCSCD_DOWN":
            self._release()
        previous = self.status()
        if isinstance(exc, NoReaderError) and isinstance(previous.error, ReaderGoneError):
            # "the reader was unplugged" says more than "no reader" while it stays away
            exc, reader = previous.error, previous.reader
        self._set_status(connected=False, reader=reader, error=exc)

    def _release(self) -> None:
        if self._ctx is not None:
            self._ctx.release()
            self._ctx = None

    def _wait_for_readers(self, ctx: Context, timeout_s: float) -> None:
        """Until a reader is plugged in (PnP) or `timeout_s` passes."""
        hr, states = ctx.wait([(PNP_READER, UNAWARE)], 0)
        if hr != S_SUCCESS:
            self._stopping.wait(timeout_s)
            return
        ctx.wait([(PNP_READER, states[0][1] & ~CHANGED)], int(timeout_s * 1000))

    def _watch(self, ctx: Context, reader: str) -> None:
        self._set_status(connected=True, reader=reader)
        known, pnp = UNAWARE, UNAWARE
        while not self._stopping.is_set():
            hr, states = ctx.wait([(reader, known), (PNP_READER, pnp)], self._poll_ms)
            if hr == E_TIMEOUT:
                continue
            if hr == E_CANCELLED:
                return
            if hr != S_SUCCESS:
                if hr in READER_LOST:
                    raise error_for(hr, reader)
                # pcscd went away under the wait (F_COMM_ERROR, NO_SERVICE, INVALID_HANDLE…): a new
                # context next time round tells "pcscd down" from "pcscd restarted".
                self._release()
                raise ReaderGoneError(reader, pcsc=pcsc_message(hr))
            (_, state, atr), (_, pnp_state, _) = states
            if state & GONE_STATES:
                raise ReaderGoneError(reader)
            if pnp != UNAWARE and pnp_state != pnp and reader not in ctx.readers():
                raise ReaderGoneError(reader)
            pnp = pnp_state & ~CHANGED
            counter_moved = known != UNAWARE and (state >> 16) != (known >> 16)
            known = state & ~CHANGED
            present = bool(state & PRESENT)
            if self._present_in and (not present or counter_moved):
                self._emit(CardRemoved(reader))
                self._present_in = ""
                self._set_status(connected=True, reader=reader)
            if present and not self._present_in:
                self._present_in = reader
                self._set_status(connected=True, reader=reader, card_present=True)
                if state & MUTE:
                    self._emit(CardFailed(reader, UnreadableCardError(
                        "卡片对复位无应答", "the card does not answer to reset", reader=reader, atr=atr.hex())))
                else:
                    self._on_card(ctx, reader)

    def _on_card(self, ctx: Context, reader: str) -> None:
        started = time.perf_counter()
        try:
            record = self._read(ctx, reader)
        except (CardRemovedError, NoCardError) as exc:
            # Gone before we finished (a connect on the stale "present" state fails as "no card"): say
            # so now; the removal itself follows when pcscd sees it.
            self._emit(CardFailed(reader, CardRemovedError(reader, pcsc=exc.details.get("pcsc", ""))
                                  if isinstance(exc, NoCardError)
                                  else exc))
        except CardError as exc:
            if exc.code in ("CARD_PCSCD_DOWN", "CARD_READER_GONE"):
                raise
            self._emit(CardFailed(reader, exc))
        else:
            self._emit(CardInserted(reader, record, (time.perf_counter() - started) * 1000))
