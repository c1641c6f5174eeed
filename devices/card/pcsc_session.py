"""PC/SC through pyscard's thin `scard` layer: a context, a card connection, and every PC/SC failure
turned into the card error a person can act on.

The low-level layer is used rather than pyscard's `CardMonitor`/`CardRequest` because the reader
needs what those hide: the exact state word (with its event counter, so a quick remove-and-insert
is not missed), cancelling a wait from another thread, and the PC/SC code of each failure. A
context belongs to one thread (pcsc-lite), so each watcher and each on-demand read has its own.
"""

from __future__ import annotations

import time

from smartcard import scard

from devices.card.errors import (
    CardError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    PcscdNotRunningError,
    ReaderGoneError,
    UnreadableCardError,
)

PNP_READER = "\\\\?PnP?\\Notification"  # pcsc-lite's pseudo reader: its state changes when readers come or go


def _code(name: str) -> int:
    return getattr(scard, name) & 0xFFFFFFFF


S_SUCCESS = 0
E_TIMEOUT = _code("SCARD_E_TIMEOUT")
E_CANCELLED = _code("SCARD_E_CANCELLED")
E_NO_READERS = _code("SCARD_E_NO_READERS_AVAILABLE")
E_NOT_TRANSACTED = _code("SCARD_E_NOT_TRANSACTED")
# The service is gone (never started, stopped, or restarted under our handle): make a new context.
CONTEXT_LOST = {_code(n) for n in ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED", "SCARD_E_INVALID_HANDLE")}
READER_LOST = {_code(n) for n in ("SCARD_E_UNKNOWN_READER", "SCARD_E_READER_UNAVAILABLE")}
CARD_GONE = {_code(n) for n in ("SCARD_E_NO_SMARTCARD", "SCARD_W_REMOVED_CARD")}
CARD_UNREADABLE = {_code(n) for n in ("SCARD_W_UNRESPONSIVE_CARD", "SCARD_W_UNPOWERED_CARD", "SCARD_E_PROTO_MISMATCH",
                                      "SCARD_E_COMM_DATA_LOST", "SCARD_F_COMM_ERROR")}
E_SHARING = _code("SCARD_E_SHARING_VIOLATION")

PRESENT = scard.SCARD_STATE_PRESENT
EMPTY = scard.SCARD_STATE_EMPTY
MUTE = scard.SCARD_STATE_MUTE
GONE_STATES = scard.SCARD_STATE_UNAVAILABLE | scard.SCARD_STATE_UNKNOWN
CHANGED = scard.SCARD_STATE_CHANGED


def pcsc_message(hr: int) -> str:
    return f"{scard.SCardGetErrorMessage(hr)} (0x{hr & 0xFFFFFFFF:08X})"


def error_for(hr: int, reader: str) -> CardError:
    """The card error for a PC/SC result code, `reader` being the one in use (or wanted)."""
    hr &= 0xFFFFFFFF
    pcsc = pcsc_message(hr)
    if hr in CONTEXT_LOST:
        return PcscdNotRunningError(pcsc=pcsc)
    if hr == E_NO_READERS:
        return NoReaderError(reader, pcsc=pcsc)
    if hr in READER_LOST:
        return ReaderGoneError(reader, pcsc=pcsc)
    if hr in CARD_GONE or hr == E_NOT_TRANSACTED:
        return CardRemovedError(reader, pcsc=pcsc)
    if hr == E_SHARING:
        return UnreadableCardError("读卡器正被其他程序独占", "another program holds the card exclusively",
                                   reader=reader, pcsc=pcsc)
    if hr in CARD_UNREADABLE:
        return UnreadableCardError("卡片无应答或接触不良", "the card does not answer (dirty or damaged contacts?)",
                                   reader=reader, pcsc=pcsc)
    return UnreadableCardError("读卡器报告错误", "the reader reported an error", reader=reader, pcsc=pcsc)


class Context:
    """One PC/SC context. Raises `PcscdNotRunningError` when pcscd is not there."""

    def __init__(self) -> None:
        hr, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != S_SUCCESS:
            raise error_for(hr, "")
        self.handle = handle

    def readers(self) -> list[str]:
        hr, readers = scard.SCardListReaders(self.handle, [])
        if hr & 0xFFFFFFFF == E_NO_READERS:
            return []
        if hr != S_SUCCESS:
            raise error_for(hr, "")
        return list(readers)

    def pick(self, wanted: str) -> str:
        """The configured reader (exact name, or the first whose name starts with it), else the first."""
        readers = self.readers()
        if wanted:
            for name in readers:
                if name == wanted:
                    return name
            for name in readers:
                if name.startswith(wanted):
                    return name
            raise NoReaderError(wanted, available=readers)
        if not readers:
            raise NoReaderError()
        return readers[0]

    def wait(self, states: list[tuple[str, int]], timeout_ms: int) -> tuple[int, list[tuple[str, int, bytes]]]:
        """SCardGetStatusChange: (result code, [(reader, event state, ATR)])."""
        hr, result = scard.SCardGetStatusChange(self.handle, timeout_ms, states)
        return hr & 0xFFFFFFFF, [(r, s, bytes(atr)) for r, s, atr in result]

    def state(self, reader: str) -> int:
        hr, result = self.wait([(reader, scard.SCARD_STATE_UNAWARE)], 0)
        if hr != S_SUCCESS:
            raise error_for(hr, reader)
        return result[0][1]

    def cancel(self) -> None:
        scard.SCardCancel(self.handle)

    def release(self) -> None:
        scard.SCardReleaseContext(self.handle)


class Connection:
    """A shared connection to the card in `reader`, inside a transaction so no other program's
    APDUs interleave with ours. A transport for `devices.card.apdu.exchange`."""

    def __init__(self, context: Context, reader: str) -> None:
        self.reader = reader
        self._context = context
        hr, self._card, self._protocol = scard.SCardConnect(
            context.handle, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hr != S_SUCCESS:
            err = error_for(hr, reader)
            raise NoCardError(reader, pcsc=pcsc_message(hr)) if isinstance(err, CardRemovedError) else err
        hr, _name, _state, _protocol, atr = scard.SCardStatus(self._card)
        self.atr = bytes(atr) if hr == S_SUCCESS else b""
        hr = scard.SCardBeginTransaction(self._card)
        if hr != S_SUCCESS:
            self.close()
            raise self._failure(hr)

    @property
    def protocol(self) -> str:
        return "T=0" if self._protocol == scard.SCARD_PROTOCOL_T0 else "T=1"

    def transmit(self, apdu: bytes) -> tuple[bytes, int, int]:
        hr, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hr != S_SUCCESS:
            raise self._failure(hr)
        if len(response) < 2:
            raise self._removed_or(UnreadableCardError("卡片应答不完整", "the card's answer has no status word",
                                                       reader=self.reader))
        return bytes(response[:-2]), response[-2], response[-1]

    def _failure(self, hr: int) -> CardError:
        hr &= 0xFFFFFFFF
        if hr != E_NOT_TRANSACTED:
            return error_for(hr, self.reader)
        return self._removed_or(UnreadableCardError("与卡片通讯失败", "the exchange with the card failed",
                                                    reader=self.reader, pcsc=pcsc_message(hr)))

    def _removed_or(self, otherwise: CardError) -> CardError:
        """A broken exchange: a pulled card shows as "transaction failed" or an empty answer, but so does
        a bad contact. pcscd's next presence poll (every 400 ms) tells the two apart."""
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            try:
                if not self._context.state(self.reader) & PRESENT:
                    return CardRemovedError(self.reader, **{k: v for k, v in otherwise.details.items()
                                                            if k != "reader"})
            except CardError as exc:
                return exc
            time.sleep(0.02)
        return otherwise

    def close(self) -> None:
        scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
        scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
