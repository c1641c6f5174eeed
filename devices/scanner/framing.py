"""Splitting a serial scanner's byte stream into frames, one frame per scanned code.

A scanner ends each code with its configured suffix (CR, LF or CR LF). Frames are split on that suffix
and never on a pause: a code can arrive in two reads hundreds of milliseconds apart, and 1,000 codes can
arrive in one read (devices.md §7). Only a scanner configured with no suffix at all leaves nothing but
the pause to go by; that mode exists because some scanners ship so, and the gap is the caller's to time.

What is not a clean frame is dropped with a reason, never passed on as a code: bytes that are not
printable text (line noise, a plug-in burst, escape sequences), frames longer than any code, and the
unterminated tail left when the scanner goes away mid-code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GS = 0x1D  # GS1 group separator: the one control byte a code may carry (DataMatrix on imported drugs)


class Suffix(StrEnum):
    CR = "cr"
    LF = "lf"
    CRLF = "crlf"
    NONE = "none"

    @property
    def terminator(self) -> bytes:
        return {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "none": b""}[self.value]


@dataclass(frozen=True, slots=True)
class Frame:
    text: str


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: str  # machine-readable: noise | too_long | partial | undecodable
    detail: str  # for the log: never the content of what may be a credential, only its shape

    def describe(self) -> str:
        return f"{self.reason}: {self.detail}"


Result = Frame | Dropped


class FrameSplitter:
    """Feed bytes in arrival order; get the complete frames (and the drops) they finish."""

    def __init__(self, suffix: Suffix = Suffix.CR, max_length: int = 512) -> None:
        self.suffix = suffix
        self.max_length = max_length
        self._buf = bytearray()
        self._overflowing = False  # inside an over-long frame: discard until its terminator

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Result]:
        out: list[Result] = []
        buf = self._buf
        buf += data
        if self.suffix is not Suffix.NONE:
            term = self.suffix.terminator
            start = 0
            while (end := buf.find(term, start)) >= 0:  # a CR LF split across two reads is found here too
                self._take(bytes(buf[start:end]), out)
                start = end + len(term)
            del buf[:start]
        if len(buf) > self.max_length:
            if not self._overflowing:
                out.append(Dropped("too_long", f"more than {self.max_length} bytes without a suffix"))
            self._overflowing = True
            buf.clear()
        return out

    def end_of_frame(self) -> list[Result]:
        """The line went quiet (suffix NONE only): what is buffered is one frame."""
        out: list[Result] = []
        if self._buf:
            raw = bytes(self._buf)
            self._buf.clear()
            self._take(raw, out)
        self._overflowing = False
        return out

    def discard(self, reason: str) -> list[Dropped]:
        """Drop the unterminated tail (the scanner went away mid-code)."""
        out: list[Dropped] = []
        if self._buf:
            out.append(Dropped(reason, f"{len(self._buf)} bytes without the {self.suffix.value} suffix"))
        self._buf.clear()
        self._overflowing = False
        return out

    def _take(self, raw: bytes, out: list[Result]) -> None:
        if self._overflowing:  # the end of an over-long frame already reported
            self._overflowing = False
            return
        if len(raw) > self.max_length:
            out.append(Dropped("too_long", f"{len(raw)} bytes, more than {self.max_length}"))
            return
        # A scanner set to CR LF while we expect CR (or LF) leaves the other byte at an edge: tolerated.
        raw = raw.strip(b"\r\n")
        if not raw:
            return  # an empty line: a bare suffix, nothing scanned
        out.append(check_frame(raw))


def check_frame(raw: bytes) -> Result:
    """A frame is printable text (ASCII, or UTF-8 from a QR code) with GS the only control byte allowed."""
    bad = sorted({b for b in raw if (b < 0x20 and b != GS) or b == 0x7F})
    if bad:
        shown = " ".join(f"{b:02X}" for b in bad[:6])
        return Dropped("noise", f"{len(raw)} bytes with control bytes {shown}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Dropped("undecodable", f"{len(raw)} bytes that are not UTF-8 text")
    if any(not (c.isprintable() or c == "\x1d") for c in text):
        return Dropped("noise", f"{len(raw)} bytes with unprintable characters")
    return Frame(text)
