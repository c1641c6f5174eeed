"""Device benchmarks: `python -m bench.bench_devices`.

1. Serial scan → `scan` event at the till's subscriber: one code written to a pty (the scanner's end),
   read by the real pyserial driver, framed, classified and published through the event hub, taken by
   an asyncio subscriber as the till's event stream does. Median and p99, beside a bare pty
   write → pyserial read of the same frame in the same run (the floor a driver cannot go under).
2. Receipt bytes generated per second: the real renderer into python-escpos's Dummy printer.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import serial

from bench._common import p50_p99, rule
from devices.printer.documents import ReceiptDoc, ReceiptLine, StoreHeader, TenderLine
from devices.printer.render import escpos_bytes
from devices.scanner import SerialScanner, SerialScannerConfig
from server.devices import HubSink
from server.events import EventHub

CODE = b"6901234567892\r"


def _pty() -> tuple[int, str]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    return master, path


def bare_pty(n: int) -> list[float]:
    """pty write → pyserial read of one whole frame: the transport alone."""
    master, path = _pty()
    port = serial.Serial(path, 9600, timeout=1)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(master, CODE)
            got = b""
            while not got.endswith(b"\r"):
                got += port.read(max(1, port.in_waiting))
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        port.close()
        os.close(master)
    return out


def scan_to_event(n: int) -> list[float]:
    """pty write → the till's subscriber holds the `scan` event (driver thread, framing, classification, hub)."""
    master, path = _pty()
    link = Path(tempfile.mkdtemp()) / "scanner"
    link.symlink_to(path)
    hub = EventHub()
    scanner = SerialScanner(SerialScannerConfig(str(link)), HubSink(hub, "T01"))
    scanner.start()
    while not scanner.status().connected:
        time.sleep(0.001)
    out: list[float] = []

    async def till() -> None:
        loop = asyncio.get_running_loop()
        events = hub.subscribe("T01").__aiter__()
        started: list[float] = []

        def write_one() -> None:
            started.append(time.perf_counter())
            os.write(master, CODE)

        for _ in range(n):
            # the subscription must be waiting before the code is written (a generator registers on first await)
            waiting = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0)
            await loop.run_in_executor(None, write_one)
            while True:
                event = await waiting
                if event.kind == "scan":
                    break
                waiting = asyncio.ensure_future(events.__anext__())
            out.append((time.perf_counter() - started[-1]) * 1000)

    try:
        asyncio.run(till())
    finally:
        scanner.stop()
        os.close(master)
        link.unlink()
    return out


def receipt_rate(seconds: float) -> tuple[int, float]:
    lines = [ReceiptLine(f"阿莫西林胶囊{i}", "0.25g*24粒", 2, "盒", 1250, 2500, "rx" if i % 2 else "otc_a",
                         "处方药" if i % 2 else "甲类非处方药", "甲") for i in range(8)]
    doc = ReceiptDoc(StoreHeader("丁点大药房（示范店）", "P44030000001"), "T01", "20261123-0042",
                     "2026-11-23 10:30:00", "张收银", "李药师", lines, 20000, [TenderLine("cash", "现金", 20000, 20000)],
                     0, "谢谢惠顾")
    count, total, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        total += len(escpos_bytes(doc, 42))
        count += 1
    elapsed = time.perf_counter() - t0
    return count, total / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=500)
    parser.add_argument("--render-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    print("Devices: serial scanner (pty) and receipt rendering")
    print(rule())
    bare = bare_pty(args.scans)
    full = scan_to_event(args.scans)
    b50, b99 = p50_p99(bare)
    f50, f99 = p50_p99(full)
    print(f"bare pty write → pyserial read     median {b50:7.3f} ms   p99 {b99:7.3f} ms   ({args.scans} frames)")
    print(f"serial scan → event at the till    median {f50:7.3f} ms   p99 {f99:7.3f} ms   ({args.scans} scans)")
    print(f"  the driver, framing, classification and hub add {f50 - b50:+.3f} ms at the median")
    count, rate = receipt_rate(args.render_seconds)
    print(f"receipt rendering (42 columns, 8 lines): {rate / 1024:,.0f} KiB/s of ESC/POS "
          f"({count / args.render_seconds:,.0f} receipts/s, {rate * args.render_seconds / max(count, 1):,.0f} B each)")


if __name__ == "__main__":
    main()
