"""`make demo`'s till as a person uses it: `dingdian demo` in a real terminal (tmux, 80×24), keys sent,
the screen read back with capture-pane. Log in, open the shift, scan a barcode, pay cash, see the change.

The demo runs on a temporary database and port (environment overrides), on its own tmux server socket.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from server.config import ROOT
from tests.conftest import Clock
from tests.service import free_port

pytestmark = pytest.mark.slow


class Tmux:
    def __init__(self, socket: str, session: str) -> None:
        self.socket, self.session = socket, session

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", self.session],
                              capture_output=True).returncode == 0

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)
        # A person's next key comes a moment later: keys typed ahead of a focus change would land in the
        # field being left (the login moves from the user to the PIN on Enter).
        time.sleep(0.3 if not literal else 0.05)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen() if self.alive() else "(the demo exited)"
            if re.search(pattern, shown):
                return shown
            if time.monotonic() > deadline or not self.alive():
                raise AssertionError(f"{pattern!r} not on the screen:\n{shown}")
            time.sleep(0.1)


def _processes_with(marker: str) -> list[int]:
    """Our own leftovers only: the processes whose environment names this test's temp database."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    assert shutil.which("tmux"), "tmux is installed by `make test` (APT_PACKAGES)"
    db = tmp_path / "dingdian.db"
    env = {"DINGDIAN_DATABASE__URL": f"sqlite:///{db}", "DINGDIAN_SERVICE__PORT": str(free_port()),
           # cheap PIN hashing: the demo's eight accounts are made at start
           "DINGDIAN_SERVICE__PIN_HASH_MEMORY_KIB": "1024", "DINGDIAN_SERVICE__PIN_HASH_TIME_COST": "1"}
    command = " ".join(["env", *(f"{k}={v}" for k, v in env.items()), "TERM=xterm-256color",
                        str(ROOT / ".venv" / "bin" / "dingdian"), "demo", "--till"])
    tmux = Tmux(f"dingdian-test-{uuid.uuid4().hex[:8]}", "demo")
    tmux.run("-f", "/dev/null", "new-session", "-d", "-s", "demo", "-x", "80", "-y", "24", "-c", str(ROOT), command)
    try:
        yield tmux, db
    finally:
        if tmux.alive():
            tmux.keys("C-q")  # leave the till: the demo stops its service itself
            deadline = time.monotonic() + 10
            while tmux.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
        for pid in _processes_with(str(db)):
            if pid != os.getpid():
                os.kill(pid, 15)


TRACE_CODE = "81000000000000000017"


def a_sellable_barcode(db: Path, today: date) -> tuple[str, str, bool]:
    """A demo OTC item with sellable stock on a batch that is neither expired nor stopped: (barcode, name, traced).
    `today` is the store's (the demo runs on the real clock in its own process): a month's margin either way."""
    soon = (today + timedelta(days=30)).isoformat()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("""
            SELECT bc.code, i.name, i.traced AND NOT i.no_code_stock FROM item i JOIN barcode bc ON bc.item_id = i.id
            JOIN batch b ON b.item_id = i.id JOIN batch_balance bb ON bb.batch_id = b.id
            WHERE i.gsp_class = 'otc_b' AND i.active AND b.status = 'active' AND b.expires_on > :soon
              AND bb.location = 'sellable' AND bb.qty > 0 AND length(bc.code) = 13
              AND NOT EXISTS (SELECT 1 FROM batch o JOIN batch_balance ob ON ob.batch_id = o.id
                              WHERE o.item_id = i.id AND ob.qty > 0 AND o.expires_on <= :soon)
            ORDER BY i.code LIMIT 1""", {"soon": soon}).fetchone()
    assert row is not None, "the demo store has an OTC item to sell"
    return row[0], row[1], bool(row[2])


def test_the_demo_till_logs_in_scans_and_pays_cash_with_the_change_shown(demo: tuple[Tmux, Path], clock: Clock) -> None:
    tmux, db = demo
    tmux.wait_for("收银登录", timeout=60)
    tmux.keys("cashier1", literal=True)
    tmux.keys("Enter")
    tmux.keys("1111", literal=True)
    tmux.keys("Enter")
    shown = tmux.wait_for("备用金|F2收款")
    if "备用金" in shown:  # a fresh demo store: this till's first shift asks for the float
        tmux.keys("200", literal=True)
        tmux.keys("Enter")
    shown = tmux.wait_for("F2收款")
    assert "营业员" in shown or "cashier1" in shown or "收款机 T01" in shown, shown
    barcode, name, traced = a_sellable_barcode(db, clock.today)
    tmux.keys(barcode, literal=True)
    tmux.keys("Enter")
    shown = tmux.wait_for("已加入")
    assert name[:4] in shown, shown
    if traced:  # the box's 药品追溯码 is scanned after the drug (20 digits from 8)
        tmux.keys(TRACE_CODE, literal=True)
        tmux.keys("Enter")
        shown = tmux.wait_for("已记录追溯码")
        assert "码1/1" in shown, shown
    before = clock.today
    tmux.keys("F2")
    tmux.wait_for("现金实收")
    tmux.keys("500", literal=True)
    tmux.keys("Enter")
    shown = tmux.wait_for("找零")
    # the demo's own process reads the real clock: its sale number is of the store's day (either side of midnight)
    assert any(f"单号 {day:%Y%m%d}-0001" in shown for day in (before, clock.today)), shown
    assert "收款完成" in shown, shown
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        status, total, change = conn.execute("SELECT status, total_fen, change_fen FROM sale").fetchone()
    assert status == "completed" and change == 50000 - total
