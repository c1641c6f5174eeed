"""Card insertion → record read: `python -m bench.bench_card`.

The real PC/SC driver watches pcscd's vpcd reader while the test suite's virtual social security
card is put in and taken out `--cycles` times. Measured per insertion:

- insertion → record: from the card connecting to vpcd to the driver's `CardInserted` event. Most of
  it is pcscd noticing the card (it polls vpcd every 400 ms), which no reader code can shorten;
- record read: from the driver seeing the card to the record decoded (connect, SELECT, 7 READ RECORDs,
  disconnect) — the driver's own share;
- an on-demand `read()` of a card already in (a fresh PC/SC context each time, as the API would).

Beside them, in the same run, the floor: one bare APDU round trip through pyscard's high-level API
(SELECT on an open connection), so "record read ≈ N × round trip" can be checked.

Needs pcscd and vsmartcard-vpcd (`make test` installs them); starts its own pcscd when none runs.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import p50_p99, rule
from devices.card.events import CardEvent, CardInserted, CardRemoved
from devices.card.pcsc import PcscCardReader
from devices.card.ssc import SELECT_SSSE
from tests.devices.pcscd import CHANNEL, READER, Pcscd, wait_card
from tests.devices.vcard import VirtualCard


class _Latch:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.inserted: list[tuple[float, CardInserted]] = []
        self.removed = 0

    def __call__(self, event: CardEvent) -> None:
        with self.cond:
            if isinstance(event, CardInserted):
                self.inserted.append((time.perf_counter(), event))
            elif isinstance(event, CardRemoved):
                self.removed += 1
            self.cond.notify_all()

    def wait(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        with self.cond:
            if not self.cond.wait_for(check, timeout):
                raise TimeoutError("the driver did not report the card in time")

    def wait_inserted(self, count: int) -> None:
        self.wait(lambda: len(self.inserted) >= count)

    def wait_removed(self, count: int) -> None:
        self.wait(lambda: self.removed >= count)


def insertions(cycles: int) -> tuple[list[float], list[float]]:
    """(insertion → event ms, driver read ms) per cycle."""
    latch = _Latch()
    reader = PcscCardReader(READER)
    reader.start(latch)
    wall, read = [], []
    try:
        for i in range(cycles):
            card = VirtualCard(CHANNEL)
            started = time.perf_counter()
            card.insert()
            latch.wait_inserted(i + 1)
            at, event = latch.inserted[i]
            wall.append((at - started) * 1000)
            read.append(event.read_ms)
            card.remove()
            latch.wait_removed(i + 1)
            wait_card(False)
    finally:
        reader.stop()
    return wall, read


def on_demand(n: int) -> list[float]:
    card = VirtualCard(CHANNEL).insert()
    try:
        wait_card(True)
        reader = PcscCardReader(READER)
        reader.read()  # warm-up
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            reader.read()
            times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        card.remove()
        wait_card(False)


def bare_apdu(n: int) -> list[float]:
    from smartcard.System import readers

    card = VirtualCard(CHANNEL).insert()
    try:
        wait_card(True)
        target = next(r for r in readers() if str(r) == READER)
        conn = target.createConnection()
        conn.connect()
        apdu = list(SELECT_SSSE)
        conn.transmit(apdu)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            conn.transmit(apdu)
            times.append((time.perf_counter() - t0) * 1000)
        conn.disconnect()
        conn.release()
        return times
    finally:
        card.remove()
        wait_card(False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_card", description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=20, help="card insertions (each ~0.5-1 s)")
    parser.add_argument("--reads", type=int, default=200, help="on-demand reads of a card already in")
    parser.add_argument("--apdus", type=int, default=2000, help="bare APDU round trips")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-card-") as tmp:
        daemon = Pcscd(Path(tmp)).ensure()
        try:
            wall, read = insertions(args.cycles)
            demand = on_demand(args.reads)
            bare = bare_apdu(args.apdus)
        finally:
            if daemon.owned:
                daemon.stop()

    apdus_per_read = 8  # SELECT + 7 READ RECORD (a T=1 card; a T=0 card adds GET RESPONSE)
    print("Card reader (pyscard → pcscd → vpcd → virtual social security card)")
    print(rule(96))
    print(f"{'measure':<52}{'n':>6}{'median ms':>12}{'p99 ms':>12}")
    for label, values in (("card insertion → record at the callback", wall),
                          ("  of which the driver's read (connect … decode)", read),
                          ("on-demand read() of a card already in", demand),
                          ("bare APDU round trip through pyscard (floor)", bare)):
        p50, p99 = p50_p99(values)
        print(f"{label:<52}{len(values):>6}{p50:>12.2f}{p99:>12.2f}")
    print(rule(96))
    med_bare = statistics.median(bare)
    print(f"driver's read = {statistics.median(read) / med_bare:.1f} × a bare round trip "
          f"({apdus_per_read} APDUs per card); the rest of insertion → record is pcscd's 400 ms presence poll")


if __name__ == "__main__":
    main()
