"""Printers for the tests: a TCP listener that behaves like a network ESC/POS printer on port 9100, and the
far end of a pty that behaves like a serial one.

Both keep every byte they receive (per connection) and answer DLE EOT status queries the way a printer
does: online 0x16 (0x1E when offline), paper 0x12 (0x72 when out of paper). A TCP printer can be told
to drop the next job's connection after N bytes (a printer that dies mid-job), or be stopped and
started again on the same port (switched off and on). A connection that only asks the status (the driver
looking whether the printer is there) is a probe, not a job.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time

from tests import privacy_scan

DLE_EOT = b"\x10\x04"


class _Status:
    def __init__(self) -> None:
        self.online = True
        self.paper = True

    def answer(self, n: int) -> bytes:
        if n == 1:
            return bytes([0x16 | (0 if self.online else 0x08)])
        if n == 4:
            return bytes([0x12 | (0 if self.paper else 0x60)])
        return b"\x12"


def _answers(buf: bytearray, status: _Status) -> bytes:
    """Answers to every complete DLE EOT n in `buf` (consumed up to the last complete one)."""
    out = b""
    while (i := buf.find(DLE_EOT)) >= 0 and i + 2 < len(buf):
        out += status.answer(buf[i + 2])
        del buf[:i + 3]
    keep = buf[-2:] if buf.endswith(b"\x10") or buf.endswith(DLE_EOT) else b""
    buf.clear()
    buf += keep
    return out


class TcpPrinter(_Status):
    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.port = port
        self.jobs: list[bytes] = []  # the bytes of each finished connection, in order
        self.torn: list[bytes] = []  # connections cut by drop_after
        self.probes: list[bytes] = []  # connections that only asked the printer's status
        self.drop_after: int | None = None
        # Once a connection has carried these bytes, the printer goes silent (a jam, a printer hung mid-job): it
        # keeps the connection and reads on, but answers no status query — the driver waits on it.
        self.hang_on: bytes | None = None
        self.hung: list[bytes] = []  # what each hung connection had received when it ended
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> TcpPrinter:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(8)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept(): the port is free at once
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data, pending = bytearray(), bytearray()
        drop, hang, hung = self.drop_after, self.hang_on, False
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                if drop is not None and len(data) + len(chunk) >= drop:
                    data += chunk[:drop - len(data)]
                    self.drop_after = None
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                    with self._lock:
                        self.torn.append(bytes(data))
                    privacy_scan.printed(f"tcp:{self.port} (torn)", bytes(data))
                    return
                data += chunk
                pending += chunk
                reply = _answers(pending, self)
                hung = hung or (hang is not None and hang in data)
                if hung:
                    continue
                if reply:
                    conn.sendall(reply)
        privacy_scan.printed(f"tcp:{self.port}", bytes(data))
        if hung:
            with self._lock:
                self.hung.append(bytes(data))
            return
        with self._lock:  # a connection that only asked the status is the driver looking (a probe), not a job
            (self.jobs if bytes(data).replace(DLE_EOT + b"\x01", b"").replace(DLE_EOT + b"\x04", b"")
             else self.probes).append(bytes(data))

    def wait_jobs(self, n: int, timeout: float = 10) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.jobs) >= n:
                    return list(self.jobs)
            time.sleep(0.01)
        raise AssertionError(f"the printer received {len(self.jobs)} job(s), expected {n}")


class PtyPrinter(_Status):
    """A serial printer: the test holds the pty master; the driver opens `path`."""

    def __init__(self) -> None:
        super().__init__()
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        pending = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # no one has the slave open right now
                time.sleep(0.01)
                continue
            self.received += chunk
            pending += chunk
            reply = _answers(pending, self)
            if reply:
                os.write(self.master, reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        privacy_scan.printed(f"serial {self.path}", bytes(self.received))
        os.close(self.master)
