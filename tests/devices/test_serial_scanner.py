"""The real pyserial scanner driver on a pty: bytes written at full speed arrive as exactly the scans sent,
in order, at the till's event stream — junk, split frames, over-long noise and a re-plugged scanner
included. One test goes through a real service's GET /events (server-sent events)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.codes import VOUCHER_PREFIXES
from devices.scanner import Frame, FrameSplitter, SerialScanner, SerialScannerConfig, Suffix
from server.devices import HubSink
from server.events import EventHub, TillEvent
from tests.conftest import ROLE_PINS, Shop, till_login
from tests.devices.ptys import PluggableScanner
from tests.service import start_service

GTINS = ["6901234567892", "6902345678903", "6903456789014", "96385074", "00012345600012"]
TRACE = "81234567890123456789"
GS1_DM = "]d20106901234567892\x1d10LOT42\x1d17261231"
RECEIPT = "20261123-0042"
RX_QR = "a1B2c3D4e5F6g7H8i9J0k1L2m3N"
VOUCHER = f"{VOUCHER_PREFIXES[0]}7f3a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"
JUNK = [b"\x00\xff\x1b[A garbage", b"6901234567890", b"812345678901234567", b"\xfe\xfe\xfe", b"\x07\x07", b"9" * 600]


def wait_for(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def collect(hub: EventHub, till: str, kind: str, n: int, act: Callable[[], None], timeout: float = 15,
            others: list[TillEvent] | None = None) -> list[TillEvent]:
    """Subscribe to the till's stream, run `act` in a thread (the scanner being used), return the events of
    `kind` once `n` arrived plus a short grace time (anything extra — a junk frame turned into a scan —
    would be caught). Events of other kinds go to `others`."""

    async def main() -> list[TillEvent]:
        got: list[TillEvent] = []

        async def take() -> None:
            async for event in hub.subscribe(till):
                if event.kind == kind:
                    got.append(event)
                elif others is not None:
                    others.append(event)

        task = asyncio.create_task(take())
        await asyncio.sleep(0.01)
        worker = threading.Thread(target=act)
        worker.start()
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        task.cancel()
        worker.join()
        return got

    return asyncio.run(main())


@pytest.fixture
def pty_scanner(tmp_path: Path) -> Iterator[PluggableScanner]:
    scanner = PluggableScanner(tmp_path / "scanner")
    yield scanner
    scanner.close()


def driver(hub: EventHub, link: Path, suffix: Suffix = Suffix.CR, **cfg: Any) -> SerialScanner:
    scanner = SerialScanner(SerialScannerConfig(str(link), suffix=suffix, **cfg), HubSink(hub, "T01"))
    scanner.start()
    wait_for(lambda: scanner.status().connected, what="the port to open")  # opening flushes: scan after it
    return scanner


def frame(code: str, suffix: Suffix = Suffix.CR) -> bytes:
    return code.encode() + suffix.terminator


def test_a_burst_of_1000_scans_with_junk_between_and_frames_split_across_writes(pty_scanner: PluggableScanner) -> None:
    rng = random.Random(8)
    kinds = [*GTINS, TRACE, GS1_DM, RECEIPT, RX_QR, VOUCHER]
    sent = [rng.choice(kinds) for _ in range(1000)]
    stream = bytearray()
    for i, code in enumerate(sent):
        stream += frame(code)
        if i % 37 == 0:
            stream += rng.choice(JUNK) + b"\r"  # line noise / a mis-read, terminated like a scan
    chunks, pos = [], 0
    while pos < len(stream):  # cut anywhere, including inside a frame and between CR and the next code
        step = rng.randint(1, 900)
        chunks.append(bytes(stream[pos:pos + step]))
        pos += step
    hub = EventHub(backlog=8192)
    scanner = driver(hub, pty_scanner.link)

    def feed() -> None:
        for chunk in chunks:
            pty_scanner.write(chunk)

    try:
        events = collect(hub, "T01", "scan", len(sent), feed)
    finally:
        scanner.stop()
    assert [e.data["code"] for e in events] == [c.removeprefix("]d2") for c in sent]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    by_code = {e.data["code"]: e.data for e in events}
    assert by_code[TRACE]["kind"] == "trace" and by_code[RECEIPT]["kind"] == "receipt"
    assert by_code["0106901234567892\x1d10LOT42\x1d17261231"]["kind"] == "gs1"  # GS separators kept
    assert by_code["0106901234567892\x1d10LOT42\x1d17261231"]["gtin"] == "06901234567892"
    assert by_code[RX_QR]["kind"] == "rx_qr" and by_code[GTINS[3]]["kind"] == "gtin"
    assert by_code[VOUCHER]["kind"] == "voucher" and by_code[VOUCHER]["secret"] is True
    assert scanner.pipeline.dropped == sum(1 for i in range(1000) if i % 37 == 0)


def test_unplugged_and_plugged_back_in_the_scanner_is_reopened_and_no_partial_code_gets_through(
        pty_scanner: PluggableScanner, caplog: pytest.LogCaptureFixture) -> None:
    hub = EventHub()
    states: list[TillEvent] = []
    scanner = driver(hub, pty_scanner.link, backoff_min_s=0.02, backoff_max_s=0.2)
    try:
        def use() -> None:
            pty_scanner.write(b"".join(frame(c) for c in GTINS))
            pty_scanner.write(b"69012345")  # the cable comes out in the middle of a code
            wait_for(lambda: scanner.splitter.pending == 8, what="the partial code to be read")
            pty_scanner.unplug()
            wait_for(lambda: not scanner.status().connected, what="the unplug to be noticed")
            time.sleep(0.3)  # a few reopen attempts fail while it is out
            pty_scanner.plug()
            wait_for(lambda: scanner.status().connected, what="the scanner to be reopened")
            pty_scanner.write(b"".join(frame(c) for c in reversed(GTINS)))

        events = collect(hub, "T01", "scan", 2 * len(GTINS), use, others=states)
    finally:
        scanner.stop()
    assert [e.data["code"] for e in events] == GTINS + list(reversed(GTINS))
    assert scanner.opened == 2
    assert scanner.pipeline.dropped == 1 and "partial: 8 bytes" in caplog.text
    # the till's status bar was told: gone (with the reason), then back
    shown = [(e.data["connected"], e.data["text"]) for e in states if e.data["name"] == "scanner"]
    assert shown[0] == (False, "扫码枪已断开，重试中") and shown[-1] == (True, "扫码枪已连接")
    assert any("went away" in (e.data["last_error"] or "") for e in states)


@pytest.mark.parametrize("suffix", [Suffix.CR, Suffix.LF, Suffix.CRLF])
def test_each_suffix_splits_frames_even_when_the_suffix_itself_is_split(pty_scanner: PluggableScanner,
                                                                      suffix: Suffix) -> None:
    hub = EventHub()
    scanner = driver(hub, pty_scanner.link, suffix=suffix)

    def use() -> None:
        for code in GTINS:
            data = frame(code, suffix)
            pty_scanner.write(data[:-1])
            time.sleep(0.15)  # longer than the read timeout: a pause never ends a frame
            pty_scanner.write(data[-1:])

    try:
        events = collect(hub, "T01", "scan", len(GTINS), use)
    finally:
        scanner.stop()
    assert [e.data["code"] for e in events] == GTINS


def test_a_scanner_without_suffix_is_split_on_the_pause(pty_scanner: PluggableScanner) -> None:
    hub = EventHub()
    scanner = driver(hub, pty_scanner.link, suffix=Suffix.NONE, frame_gap_s=0.05)

    def use() -> None:
        for code in GTINS:
            pty_scanner.write(code.encode())
            time.sleep(0.15)

    try:
        events = collect(hub, "T01", "scan", len(GTINS), use)
    finally:
        scanner.stop()
    assert [e.data["code"] for e in events] == GTINS


def test_framing_drops_noise_overlong_and_partial_frames_with_a_reason() -> None:
    splitter = FrameSplitter(Suffix.CR, max_length=64)
    out = splitter.feed(b"\x00\xff\x1b[A garbage\r" + b"1" * 100 + b"\r6901234567892\r" + b"2" * 70)
    assert [type(r).__name__ for r in out] == ["Dropped", "Dropped", "Frame", "Dropped"]
    assert [getattr(r, "reason", None) for r in out] == ["noise", "too_long", None, "too_long"]
    assert out[2] == Frame("6901234567892")
    assert splitter.feed(b"333\r6902345678903\r") == [Frame("6902345678903")]  # the tail of the long one is gone
    splitter.feed(b"69012")
    assert [d.reason for d in splitter.discard("partial")] == ["partial"]


def test_a_voucher_token_reaches_the_till_but_never_the_log_or_the_status(pty_scanner: PluggableScanner,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    hub = EventHub()
    caplog.set_level(logging.DEBUG)
    scanner = driver(hub, pty_scanner.link)
    try:
        events = collect(hub, "T01", "scan", 1, lambda: pty_scanner.write(frame(VOUCHER)))
    finally:
        scanner.stop()
    assert events[0].data["code"] == VOUCHER and events[0].data["kind"] == "voucher"
    assert VOUCHER not in caplog.text
    assert VOUCHER not in json.dumps(scanner.status().as_dict(), ensure_ascii=False)
    assert "withheld" in (scanner.status().last_event or "")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_scans_arrive_in_order_at_the_tills_sse_stream_of_a_real_service(shop: Shop, settings: Any,
                                                                         tmp_path: Path) -> None:
    link = tmp_path / "scanner-by-id"
    pty = PluggableScanner(link)
    base, stop = start_service(settings, tmp_path, env_overrides={"DINGDIAN_DEVICES__SCANNER": "serial",
                                                                  "DINGDIAN_DEVICES__SCANNER_PORT": str(link)})
    sent = [GTINS[i % len(GTINS)] if i % 10 else TRACE for i in range(300)]
    got: list[str] = []
    try:
        with httpx.Client(base_url=base, timeout=15) as http:
            headers = till_login(http, "u_cashier", ROLE_PINS["cashier"])
            devices = http.get("/devices", headers=headers).json()
            scanner = next(d for d in devices if d["name"] == "scanner")
            assert scanner["driver"] == "serial"
            wait_for(lambda: next(d for d in http.get("/devices", headers=headers).json()
                                  if d["name"] == "scanner")["connected"], what="the service to open the scanner")
            with http.stream("GET", "/events", headers=headers) as resp:
                assert resp.status_code == 200
                writer = threading.Thread(target=lambda: pty.write(
                    b"\x00junk\r" + b"".join(frame(c) for c in sent)))
                writer.start()
                kind = None
                # the stream's keep-alives would keep the wait for a lost scan going for ever: a minute is plenty
                deadline = time.monotonic() + 60
                for line in resp.iter_lines():
                    if time.monotonic() > deadline:
                        break
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: ") and kind == "scan":
                        got.append(json.loads(line.removeprefix("data: "))["code"])
                        if len(got) == len(sent):
                            break
                writer.join()
    finally:
        stop()
        pty.close()
    assert got == sent
