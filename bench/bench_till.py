"""The till's latencies through Textual's Pilot: `python -m bench.bench_till`.

- keystroke → repaint: a key into the sale screen's scan input until the screen's next repaint (the
  compositor's update handed to the driver) with the character in the input. Floor: the same on a bare
  Textual app holding one Input.
- scan → line visible: a 13-digit code and Enter posted as a keyboard-wedge scanner types them, until the
  repaint that shows the new line. Floor: the same add-line call through the till's API client alone
  (the service's share of it), from the same run.
- start → login screen: a fresh process (interpreter, imports, app) until the login screen is up with the
  focus in the user field. Floor: a fresh process showing a bare Textual app with one Input.
- switch user → sale screen ready: at the till locked by Ctrl+S over an open sale, from the next person's Enter
  on their PIN until the repaint that shows the same sale screen again, the sale read back from the service and
  the new person named. Floor: the calls it makes through the API client alone (the login; then the till's shift,
  the sale and the 医保 state side by side), from the same run.
- authorisation in place: at a cashier's F8, from the pharmacist's Enter on their PIN in the dialog until the
  repaint that shows the void's reason dialog. Floor: POST /auth/authorise through the API client alone.
- argon2 at the store's cost (service.pin_hash_memory_kib / pin_hash_time_cost): one PIN verification, in
  this process — the part of a switch of user (and of an authorisation) no till code can shorten.

CPU per operation, beside the latencies: the till's (this process: Textual, the client) and the service's (its
process, from /proc), each against its floor's from the same run. A machine shared with other work stretches the
latencies' tails; CPU time it disturbs much less, so these say where a change moved the cost.

The service runs as `dingdian serve` on a temp store (bench/_service.py). Headless: the terminal write
itself is not timed. Figures are printed, not asserted. Targets (issue #18): keystroke < 16 ms p99, scan → line
< 30 ms p99, start < 1.5 s, switch user < 300 ms, authorisation < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import ROOT, clean_env, free_port, p50_p99, process_cpu_s, rule, running, serve_command
from bench._service import build_store

KEY_TARGET_MS, SCAN_TARGET_MS, START_TARGET_S = 16.0, 30.0, 1.5
SWITCH_TARGET_MS, AUTHORISE_TARGET_MS = 300.0, 300.0
SIZE = (100, 30)

CHILD_TILL = """
import asyncio, sys
from pos.app import DingdianTill
from pos.client import TillClient
from pos.screens.login import LoginScreen
from server.config import load_settings

async def main() -> None:
    app = DingdianTill(load_settings(sys.argv[1]), client=TillClient(sys.argv[2]))
    async with app.run_test(size=(80, 24)) as pilot:
        while not (isinstance(app.screen, LoginScreen) and app.focused is not None):
            await asyncio.sleep(0.002)
        print("READY", flush=True)

asyncio.run(main())
"""
CHILD_BARE = """
import asyncio
from textual.app import App
from textual.widgets import Input

class Bare(App[None]):
    def compose(self):
        yield Input()

async def main() -> None:
    app = Bare()
    async with app.run_test(size=(80, 24)) as pilot:
        while app.focused is None:
            await asyncio.sleep(0.002)
        print("READY", flush=True)

asyncio.run(main())
"""


class CpuClock:
    """CPU milliseconds per operation over a run of them: this process's (the till's) and the service's."""

    def __init__(self, service_pid: int) -> None:
        self.pid = service_pid
        self.figures: dict[str, tuple[float, float]] = {}  # name → (till ms, service ms) per operation
        self._start = (0.0, 0.0)

    def start(self) -> None:
        self._start = (time.process_time(), process_cpu_s(self.pid))

    def stop(self, name: str, n: int) -> None:
        till, service = self._start
        self.figures[name] = (1000 * (time.process_time() - till) / n, 1000 * (process_cpu_s(self.pid) - service) / n)


class RepaintClock:
    """Wraps the app's display hook: each call with an update is a repaint; waiters see the next one."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.waiter: asyncio.Future[float] | None = None
        self.condition: Any = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and self.waiter is not None and not self.waiter.done() and self.condition():
                self.waiter.set_result(time.perf_counter())

        app._display = display

    async def after(self, act: Any, condition: Any, timeout: float = 10) -> float:
        """Seconds from `act()` to the first repaint at which `condition()` holds."""
        self.waiter, self.condition = asyncio.get_running_loop().create_future(), condition
        started = time.perf_counter()
        act()
        return await asyncio.wait_for(self.waiter, timeout) - started


def post_keys(app: Any, text: str) -> None:
    from textual import events
    from textual.keys import _character_to_key

    for ch in text:
        app.post_message(events.Key("enter", "\r") if ch == "\r" else
                         events.Key(ch if ch.isalnum() else _character_to_key(ch), ch))


async def keystrokes(app: Any, clock: RepaintClock, field: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        if i % 40 == 0:
            field.value = ""
            await asyncio.sleep(0.02)
        before = len(field.value)
        out.append(1000 * await clock.after(lambda: post_keys(app, "7"), lambda b=before: len(field.value) > b))
        await asyncio.sleep(0.005)  # a person's next key comes later than the repaint
    return out


async def till_figures(store: Any, base: str, n_keys: int, n_scans: int, cpu: CpuClock) -> dict[str, list[float]]:
    from textual.widgets import Input

    from pos.app import DingdianTill
    from pos.client import TillClient
    from pos.screens.sale import SaleScreen
    from pos.widgets.sale_lines import SaleLines
    from server.config import load_settings

    app = DingdianTill(load_settings(store.config), client=TillClient(base), auto_open_float_fen=0)
    figures: dict[str, list[float]] = {}
    async with app.run_test(size=SIZE) as pilot:
        while app.focused is None:
            await pilot.pause(0.01)
        await pilot.press(*store.cashiers[0], "enter", *store.pin, "enter")
        while not (isinstance(app.screen, SaleScreen) and app.focused is not None and app.focused.id == "scan"):
            await pilot.pause(0.01)
        sale: Any = app.screen
        clock = RepaintClock(app)
        field = sale.query_one("#scan", Input)
        cpu.start()
        figures["key"] = await keystrokes(app, clock, field, n_keys)
        cpu.stop("key", n_keys)
        field.value = ""
        await pilot.pause(0.05)
        table = sale.query_one("#lines", SaleLines)
        scans = []
        cpu.start()
        for i in range(n_scans):
            code = store.barcodes[i % len(store.barcodes)]
            rows = table.row_count
            count = sum(ln["qty"] for ln in sale.sale["lines"]) if sale.sale else 0

            def shown(r: int = rows, c: int = count) -> bool:
                lines = sale.sale["lines"] if sale.sale else []
                return table.row_count > r or sum(ln["qty"] for ln in lines) > c

            scans.append(1000 * await clock.after(lambda c=code: post_keys(app, c + "\r"), shown))
            while sale.pending:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.01)
        cpu.stop("scan", n_scans)
        figures["scan"] = scans
        # the floor of a scan: the same call through the client, no screen
        client = app.client
        sale_id = sale.sale["id"]
        api = []
        cpu.start()
        for i in range(n_scans):
            t = time.perf_counter()
            await client.add_line(sale_id, barcode=store.barcodes[i % len(store.barcodes)])
            api.append(1000 * (time.perf_counter() - t))
        cpu.stop("api", n_scans)
        figures["api"] = api
        await hands(app, pilot, clock, sale, store, figures, cpu)
    return figures


async def hands(app: Any, pilot: Any, clock: RepaintClock, sale: Any, store: Any, figures: dict[str, list[float]],
                cpu: CpuClock, n: int = 15) -> None:
    """Switch user (Ctrl+S, the next person's login) and the in-place authorisation, each beside its API calls."""
    from pos.screens.authorise import AuthoriseScreen
    from pos.screens.login import LoginScreen
    from pos.screens.void import VoidScreen

    people = [store.cashiers[0], "bench_ph"]  # the bench store's pharmacist has the cashiers' PIN

    async def until(ready: Any) -> None:
        while not ready():
            await asyncio.sleep(0.002)

    async def type_in(username: str, pin_id: str) -> None:
        """The username and Enter, then the PIN (its Enter is the one timed)."""
        post_keys(app, username + "\r")
        await until(lambda: app.focused is not None and app.focused.id == pin_id)
        post_keys(app, store.pin)
        await until(lambda: app.focused is not None and getattr(app.focused, "value", "") == store.pin)

    switch = []
    cpu.start()  # the whole round: Ctrl+S, the login screen, the next person's typing, the sale screen again
    for i in range(n):
        while sale.pending:
            await asyncio.sleep(0.001)
        await pilot.press("ctrl+s")
        await until(lambda: isinstance(app.screen, LoginScreen) and app.focused is not None
                    and app.focused.id == "username")
        await type_in(people[(i + 1) % 2], "pin")

        def ready() -> bool:
            return (app.screen is sale and sale.pending == 0 and app.focused is not None and app.focused.id == "scan"
                    and "已登录" in str(sale.query_one("#message").render()))
        switch.append(1000 * await clock.after(lambda: post_keys(app, "\r"), ready))
    cpu.stop("switch", n)
    figures["switch"] = switch
    client, sale_id = app.client, sale.sale["id"]
    api = []
    cpu.start()
    for i in range(n):
        t = time.perf_counter()
        await client.login(people[i % 2], store.pin, app.state.till_code)
        await asyncio.gather(client.current_shift(), client.get_sale(sale_id), client.insurance_status())
        api.append(1000 * (time.perf_counter() - t))
    cpu.stop("switch_api", n)
    figures["switch_api"] = api
    # The till's own session again (the calls above logged in behind its back): lock and log the cashier in.
    await pilot.press("ctrl+s")
    await until(lambda: isinstance(app.screen, LoginScreen) and app.focused is not None)
    await type_in(store.cashiers[0], "pin")
    post_keys(app, "\r")
    await until(lambda: app.screen is sale and sale.pending == 0 and app.focused is not None)
    auth = []
    cpu.start()  # the whole round: F8, the dialog, the pharmacist's typing, the reason dialog, Esc
    for _ in range(n):
        await pilot.press("f8")
        await until(lambda: isinstance(app.screen, AuthoriseScreen) and app.focused is not None)
        await type_in("bench_ph", "auth-pin")
        dialog = app.screen
        try:
            auth.append(1000 * await clock.after(lambda: post_keys(app, "\r"),
                                                 lambda: isinstance(app.screen, VoidScreen) and app.focused is not None))
        except TimeoutError:
            raise RuntimeError(f"not authorised: {dialog.query_one('#authorise-message').render()}") from None
        await pilot.press("escape")
        await until(lambda: app.screen is sale)
    cpu.stop("authorise", n)
    figures["authorise"] = auth
    api = []
    cpu.start()
    for _ in range(n):
        t = time.perf_counter()
        await client.authorise("bench_ph", store.pin, "sale.void", sale_id)
        api.append(1000 * (time.perf_counter() - t))
    cpu.stop("authorise_api", n)
    figures["authorise_api"] = api


async def bare_keys(n: int, cpu: CpuClock) -> list[float]:
    from textual.app import App
    from textual.widgets import Input

    class Bare(App[None]):
        def compose(self) -> Any:
            yield Input(id="field")

    app = Bare()
    async with app.run_test(size=SIZE) as pilot:
        while app.focused is None:
            await pilot.pause(0.01)
        clock = RepaintClock(app)
        cpu.start()
        out = await keystrokes(app, clock, app.query_one("#field", Input), n)
        cpu.stop("bare_key", n)
        return out


def start_seconds(script: str, args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline() if proc.stdout else ""
        elapsed = time.perf_counter() - started
        proc.wait(timeout=30)
        if line.strip() != "READY":
            raise RuntimeError("the child did not reach its first screen")
        times.append(elapsed)
    return times


def argon2_ms(config: Path, n: int) -> list[float]:
    """One PIN verification at the store's argon2 cost, n times (the hash made once, as the store's users have)."""
    from server.auth.pins import hash_pin, verify_pin
    from server.config import load_settings

    service = load_settings(config).service
    stored = hash_pin("246810", service.pin_hash_memory_kib, service.pin_hash_time_cost)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        verify_pin("246810", stored)
        out.append(1000 * (time.perf_counter() - t))
    return out


def show(name: str, ms: list[float], floor: list[float], target: float, unit: str = "ms") -> None:
    p50, p99 = p50_p99(ms)
    f50, f99 = p50_p99(floor)
    verdict = "within" if p99 < target else "OVER"
    print(f"{name:<26} p50 {p50:8.2f}  p99 {p99:8.2f} {unit}   target < {target:g} {unit} ({verdict})   "
          f"floor p50 {f50:8.2f}  p99 {f99:8.2f} {unit}   (n={len(ms)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200, help="keystrokes timed")
    parser.add_argument("--scans", type=int, default=60, help="scans timed")
    parser.add_argument("--starts", type=int, default=5, help="process starts timed (each)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-till-") as tmp:
        store = build_store(Path(tmp), tills=1)
        port = free_port()
        with running(serve_command(store.config, port), port, "/health", Path(tmp) / "service.log") as (proc, _):
            base = f"http://127.0.0.1:{port}"
            cpu = CpuClock(proc.pid)
            figures = asyncio.run(till_figures(store, base, args.keys, args.scans, cpu))
            floor_keys = asyncio.run(bare_keys(args.keys, cpu))
            starts = start_seconds(CHILD_TILL, [str(store.config), base], args.starts)
            bare_starts = start_seconds(CHILD_BARE, [], args.starts)
            argon2 = argon2_ms(store.config, 15)
    print("Till latencies through Pilot (headless; the service a subprocess on a temp store)")
    print(rule())
    show("keystroke → repaint", figures["key"], floor_keys, KEY_TARGET_MS)
    show("scan → line visible", figures["scan"], figures["api"], SCAN_TARGET_MS)
    show("start → login screen", starts, bare_starts, START_TARGET_S, unit="s")
    show("switch user → sale ready", figures["switch"], figures["switch_api"], SWITCH_TARGET_MS)
    show("  of which argon2 (1 PIN)", argon2, argon2, SWITCH_TARGET_MS)
    show("authorise in place", figures["authorise"], figures["authorise_api"], AUTHORISE_TARGET_MS)
    print(rule())
    print("CPU per operation (ms; the till is this process, the service its own)")
    c = cpu.figures
    for name, mine, floor, what in (("keystroke", "key", "bare_key", "bare Textual"),
                                    ("scan → line", "scan", "api", "add-line call alone"),
                                    ("switch user (round)", "switch", "switch_api", "its calls alone"),
                                    ("authorise (round)", "authorise", "authorise_api", "POST alone")):
        print(f"{name:<26} till {c[mine][0]:8.2f}  service {c[mine][1]:8.2f}   floor ({what}): till "
              f"{c[floor][0]:8.2f}  service {c[floor][1]:8.2f}")
    print(f"(floors: a bare Textual app with one Input; for the scan, the same add-line call through the API "
          f"client alone; for the switch, the login then the shift, the sale and the 医保 state through the client alone; for the "
          f"authorisation, POST /auth/authorise alone; argon2: one PIN verification at the store's cost, its own "
          f"floor. Start median {statistics.median(starts):.2f} s)")


if __name__ == "__main__":
    main()
