"""A virtual social security card (社会保障卡) on vsmartcard's vpcd protocol, for the reader's tests.

The card connects to vpcd's TCP port (pcscd then shows it as inserted in that reader slot) and
answers as a 2nd-generation card does: SELECT of SSSE by name and of EF05/EF06 by file id, READ
RECORD by number (SFI in P2) or by tag in the current file, GET RESPONSE. Closing the connection is
pulling the card out. It is written from the public layout (shared/reference/devices.md §4), not
from the driver's code, so the two check each other.

It misbehaves on request: `t0` (a T=0 card: 61xx after SELECT, 6Cxx on a wrong Le), `sw_for`
(a forced status word per command), `remove_after` (pulled out after N commands), `foreign` (no
social security application), `third_generation` (card number / name / ID empty without PSAM), and
`records` to replace any record's bytes.

Wire (verified): every message is a 2-byte big-endian length + payload; a 1-byte payload is control
(00 off, 01 on, 02 reset, 04 get ATR — only 04 is answered); longer is an APDU. TCP_NODELAY and
TCP_QUICKACK before every recv, or each APDU waits ~44 ms for a delayed ACK.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from datetime import date

SSSE = "sx1.sh.社会保障".encode("gbk")
ATR_T0 = bytes.fromhex("3B6D0000") + b"\x80SSC-DEMO-002"  # no TD1: T=0 only; 13 historical bytes
_T1_BODY = bytes.fromhex("E9000081" "31FE45") + b"SSC-DEMO\x02"  # TD1=81, TD2=31 (T=1), 9 historical bytes


def _tck(body: bytes) -> int:
    x = 0
    for b in body:
        x ^= b
    return x


ATR_T1 = b"\x3b" + _T1_BODY + bytes([_tck(_T1_BODY)])


@dataclass
class CardFace:
    """What is printed on (and stored in) the card."""

    card_no: str = "D44030012"
    card_sn: str = "440300D156000005A1B2C3D4E5F60718"
    name: str = "张三丰"
    id_number: str = "440305198001010014"
    version: str = "2.00"
    issued_on: date = date(2019, 5, 20)
    valid_until: date = date(2029, 5, 20)
    gender: str = "1"


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def _an(text: str, length: int, encoding: str = "ascii") -> bytes:
    raw = text.encode(encoding)
    return raw + b"\x00" * (length - len(raw))


def _cn_date(d: date) -> bytes:
    return bytes.fromhex(d.strftime("%Y%m%d"))


def card_files(face: CardFace, third_generation: bool = False) -> dict[tuple[int, int], bytes]:
    """(SFI, record number) → record bytes (TLV) for EF05 (SFI 5) and EF06 (SFI 6)."""
    hidden = third_generation
    return {
        (5, 1): _tlv(0x01, bytes.fromhex(face.card_sn)),
        (5, 2): _tlv(0x02, b"3"),
        (5, 3): _tlv(0x03, _an("3.00" if third_generation else face.version, 4)),
        (5, 4): _tlv(0x04, bytes.fromhex(face.card_sn[:6] + "000000")),  # 初始化机构编号, 12 cn
        (5, 5): _tlv(0x05, _cn_date(face.issued_on)),
        (5, 6): _tlv(0x06, _cn_date(face.valid_until)),
        (5, 7): _tlv(0x07, _an("" if hidden else face.card_no, 9)),
        (6, 1): _tlv(0x08, _an("" if hidden else face.id_number, 18)),
        (6, 2): _tlv(0x09, _an("" if hidden else face.name, 30, "gb18030")),
        (6, 3): _tlv(0x0A, face.gender.encode()),
        (6, 4): _tlv(0x0B, b"\x01"),
    }


@dataclass
class VirtualCard:
    port: int
    face: CardFace = field(default_factory=CardFace)
    t0: bool = False
    foreign: bool = False
    third_generation: bool = False
    sw_for: dict[str, int] = field(default_factory=dict)  # "select", "get_response", "read 5/7", "read 6/1" …
    remove_after: int | None = None  # commands answered before the card is "pulled out"
    records: dict[tuple[int, int], bytes] = field(default_factory=dict)
    apdus: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._files = {**card_files(self.face, self.third_generation), **self.records}
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._reset()

    @property
    def atr(self) -> bytes:
        return ATR_T0 if self.t0 else ATR_T1

    # --- lifecycle -----------------------------------------------------------------------------

    def insert(self) -> VirtualCard:
        self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._thread = threading.Thread(target=self._serve, args=(self._sock,), daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- the wire ------------------------------------------------------------------------------

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("vpcd closed")
            buf += chunk
        return bytes(buf)

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                (length,) = struct.unpack(">H", self._recv_exact(sock, 2))
                payload = self._recv_exact(sock, length)
                if len(payload) == 1:
                    if payload[0] == 0x04:
                        sock.sendall(struct.pack(">H", len(self.atr)) + self.atr)
                    elif payload[0] in (0x01, 0x02):
                        self._reset()
                    continue
                self.apdus.append(payload)
                if self.remove_after is not None and len(self.apdus) > self.remove_after:
                    break  # pulled out in the middle of the conversation
                answer = self.respond(payload)
                sock.sendall(struct.pack(">H", len(answer)) + answer)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    # --- the card ------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._in_ssse = False
        self._current_sfi = 0
        self._pending = b""

    def respond(self, apdu: bytes) -> bytes:
        _cla, ins, p1, p2 = apdu[:4]
        body = apdu[5:5 + apdu[4]] if len(apdu) > 5 else b""
        le = apdu[4] if len(apdu) == 5 else (apdu[5 + apdu[4]] if len(apdu) > 5 + apdu[4] else None)
        if ins == 0xA4:
            return self._select(p1, body)
        if ins == 0xB2:
            return self._read_record(p1, p2, le)
        if ins == 0xC0:
            forced = self.sw_for.get("get_response")
            if forced is not None:
                return forced.to_bytes(2, "big")
            return self._deliver(self._pending, le, keep_pending=True)
        return b"\x6d\x00"

    def _select(self, p1: int, body: bytes) -> bytes:
        forced = self.sw_for.get("select")
        if forced is not None:
            return forced.to_bytes(2, "big")
        if p1 == 0x04:
            if self.foreign or body != SSSE:
                return b"\x6a\x82"
            self._in_ssse, self._current_sfi = True, 0
            fci = b"\x6f" + bytes([len(SSSE) + 2]) + b"\x84" + bytes([len(SSSE)]) + SSSE
            if self.t0:
                self._pending = fci
                return bytes([0x61, len(fci)])
            return fci + b"\x90\x00"
        if p1 in (0x00, 0x02) and self._in_ssse and body in (b"\xef\x05", b"\xef\x06"):
            self._current_sfi = body[1]
            return b"\x90\x00"
        return b"\x6a\x82"

    def _read_record(self, p1: int, p2: int, le: int | None) -> bytes:
        if not self._in_ssse:
            return b"\x69\x86"
        sfi = p2 >> 3 or self._current_sfi
        if p2 & 0x07 == 0x04:
            key = (sfi, p1)
        elif p2 & 0x07 == 0x00:  # first record whose tag is P1, in the current file
            key = next((k for k, v in self._files.items() if k[0] == sfi and v[0] == p1), (sfi, -1))
        else:
            return b"\x6a\x86"
        forced = self.sw_for.get(f"read {key[0]}/{key[1]}")
        if forced is not None:
            return forced.to_bytes(2, "big")
        record = self._files.get(key)
        if record is None:
            return b"\x6a\x83"
        return self._deliver(record, le)

    def _deliver(self, data: bytes, le: int | None, keep_pending: bool = False) -> bytes:
        want = 256 if le in (None, 0) else le
        if self.t0 and want != len(data):
            return bytes([0x6C, len(data)])  # T=0: wrong Le is refused, with the right one
        if keep_pending:
            self._pending = b""
        if le in (None, 0):
            return data + b"\x90\x00"
        if want > len(data):
            return data + b"\x62\x82"  # end of record before Le bytes
        return data[:want] + b"\x90\x00"  # a shorter Le gets the start; the TLV length tells the rest
