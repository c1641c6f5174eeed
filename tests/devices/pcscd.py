"""pcscd for the card tests (and the card benchmark): one per machine, with our own vpcd reader.

Started in the foreground with `-c CONFDIR` holding one reader.conf entry, so the readers are ours
("SSC Test Reader 00 00" on port 40000, "… 00 01" on 40001) whatever the machine's own config says.
If a pcscd is already running it is used as long as it shows our reader (e.g. one left by an
earlier run); one without our reader cannot be ours to stop, and the caller is told so.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from smartcard import scard

PCSCD = "/usr/sbin/pcscd"
READER_PREFIX = "SSC Test Reader"
READER = f"{READER_PREFIX} 00 00"
CHANNEL = 40000  # 0x9C40
CONF = f"""FRIENDLYNAME "{READER_PREFIX}"
DEVICENAME /dev/null:0x{CHANNEL:04X}
LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID 0x{CHANNEL:04X}
"""


def running_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
            if name == "pcscd" and state != "Z":  # a zombie is a pcscd already gone
                pids.append(int(entry.name))
    return pids


def list_readers() -> list[str] | None:
    """The readers pcscd shows, or None when no pcscd answers."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return None
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        return list(readers) if hr == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(ctx)


def reader_state(reader: str = READER) -> int:
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hr == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hr)
    try:
        hr, states = scard.SCardGetStatusChange(ctx, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        assert hr == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hr)
        return states[0][1]
    finally:
        scard.SCardReleaseContext(ctx)


def wait_card(present: bool, reader: str = READER, timeout: float = 3.0) -> float:
    """Until pcscd shows the slot with (or without) a card; seconds waited."""
    started = time.monotonic()
    while True:
        if bool(reader_state(reader) & scard.SCARD_STATE_PRESENT) == present:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{reader}: card {'never appeared' if present else 'still present'} after {timeout} s")
        time.sleep(0.01)


class Pcscd:
    def __init__(self, workdir: Path) -> None:
        self.confdir = workdir / "reader.conf.d"
        self.log = workdir / "pcscd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.owned = False  # started by us (so ours to stop and restart)

    def ensure(self) -> Pcscd:
        if running_pids():
            readers = list_readers() or []
            if READER not in readers:
                raise RuntimeError(f"a pcscd is already running (pids {running_pids()}) without the test reader "
                                   f"'{READER}' (it shows {readers}); stop it so the tests can start their own")
            return self
        self.start()
        return self

    def start(self, timeout: float = 5.0) -> None:
        self.confdir.mkdir(parents=True, exist_ok=True)
        (self.confdir / "vpcd").write_text(CONF)
        self.owned = True
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([PCSCD, "--foreground", "-c", str(self.confdir)], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        while READER not in (list_readers() or []):
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"pcscd did not show {READER} within {timeout} s")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM our pcscd and wait until it is gone (clients then see 'service not available')."""
        if not self.owned:
            raise RuntimeError("this pcscd was not started by the tests; not stopping it")
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

