"""Receipts after a crash (issue #18): a receipt or a drawer kick whose printing a crash of the service cut off is
marked uncertain at the next start and never printed again by itself; the till is told at once (the printer's state
carries the count, GET /print-jobs/uncertain lists them) and the cashier resolves each — a reprint marked 重打, or
none (a drawer kick is never sent again: the drawer opens with its key).

The real service (`dingdian serve`) is killed with SIGKILL while the real ESC/POS driver is in the middle of a job
to a TCP listener that went silent (a printer hung mid-job), then started again on the same database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from server import audit
from server.config import ROOT, Settings
from server.db.uow import read_session
from server.services.context import Ctx
from tests.conftest import BARCODE_MASK, add_role_users, seed_shop
from tests.devices.fake_printer import TcpPrinter
from tests.devices.test_print_queue import job_doc as read
from tests.service import free_port

pytestmark = pytest.mark.slow

RECEIPT_TITLE = "销售小票".encode("gbk")
DRAWER_KICK = b"\x1bp"


@pytest.fixture
def backend() -> str:
    """The crash and the till's decision on SQLite; the guard's transitions on both (test_the_guard_…)."""
    return "sqlite"


def wait_for(cond: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


class Service:
    """`dingdian serve` on the test's database, printing on the listener through the real ESC/POS driver."""

    def __init__(self, settings: Settings, tmp_path: Path, printer_port: int) -> None:
        self.config = tmp_path / "config.toml"
        source = (ROOT / "config.toml").read_text(encoding="utf-8")
        self.config.write_text(source.replace('url = "sqlite:///var/dingdian.db"',
                                              f'url = "{settings.database.url}"'), encoding="utf-8")
        self.log = tmp_path / "service.log"
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")} | {
            "DINGDIAN_DEVICES__PRINTER": "network", "DINGDIAN_DEVICES__PRINTER_PORT": str(printer_port),
            "DINGDIAN_DEVICES__PRINTER_COLUMNS": "32", "DINGDIAN_DEVICES__PRINTER_TIMEOUT_SECONDS": "60",
            "DINGDIAN_DEVICES__PRINTER_RETRY_MAX_SECONDS": "0.5",
            "DINGDIAN_SERVICE__PIN_HASH_MEMORY_KIB": "1024", "DINGDIAN_SERVICE__PIN_HASH_TIME_COST": "1"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(Path(sys.executable).parent / "dingdian"), "serve", "--config",
                                          str(self.config), "--port", str(self.port)], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log.read_text(encoding="utf-8")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log.read_text(encoding="utf-8")
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@pytest.fixture
def printer() -> Iterator[TcpPrinter]:
    p = TcpPrinter().start()
    yield p
    p.stop()


@pytest.fixture
def service(settings: Settings, engine: Engine, ctx: Ctx, tmp_path: Path, printer: TcpPrinter) -> Iterator[Service]:
    seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    svc = Service(settings, tmp_path, printer.port)
    svc.start()
    yield svc
    svc.stop()


class Till:
    """The till's calls, over HTTP."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.token = ""

    def call(self, method: str, path: str, want: int | None = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        r = httpx.request(method, self.service.base + path, headers=headers, timeout=30, **kwargs)
        if want is not None:
            assert r.status_code == want, (path, r.status_code, r.text)
        return r.json()

    def login(self) -> None:
        self.token = self.call("POST", "/auth/login", json={"username": "u_cashier", "pin": "1111",
                                                            "till_code": "T01"})["token"]

    def cash_sale(self) -> dict[str, Any]:
        sid = str(uuid.uuid4())
        self.call("POST", "/sales", 201, json={"id": sid})
        self.call("POST", f"/sales/{sid}/lines", 201, json={"barcode": BARCODE_MASK, "qty": 1})
        return self.call("POST", f"/sales/{sid}/complete", json={"tenders": [
            {"kind": "cash", "amount_fen": 990, "tendered_fen": 1000}]})

    def jobs(self) -> list[dict[str, Any]]:
        return self.call("GET", "/print-jobs")


def _status(jobs: list[dict[str, Any]], kind: str, sale_id: str) -> str:
    return next(j["status"] for j in jobs if j["kind"] == kind and j["ref"] == sale_id and not j["reprint"])


def _kill_mid_job(service: Service, till: Till, printer: TcpPrinter, hang_on: bytes) -> dict[str, Any]:
    """A cash sale whose job carrying `hang_on` is in the printer when the service is killed; started again."""
    printer.hang_on = hang_on
    hung_before = len(printer.hung)
    sale = till.cash_sale()
    wait_for(lambda: any(j["status"] == "printing" and j["ref"] == sale["id"] for j in till.jobs()),
             what="the job in the printer")
    time.sleep(0.3)  # the driver is waiting on the silent printer's answer
    service.kill()
    wait_for(lambda: len(printer.hung) > hung_before, what="the hung connection closed by the kill")
    printer.hang_on = None
    service.start()
    till.login()
    return sale


def test_a_job_cut_off_by_a_crash_is_uncertain_shown_and_reprinted_only_when_the_cashier_says(
        service: Service, printer: TcpPrinter, engine: Engine, ctx: Ctx) -> None:
    till = Till(service)
    till.login()
    till.call("POST", "/shifts", 201, json={"float_fen": 20000})

    # 1. the receipt is in the printer (the drawer kick before it came out) when the service dies
    first = _kill_mid_job(service, till, printer, RECEIPT_TITLE)
    jobs = till.jobs()
    assert _status(jobs, "drawer", first["id"]) == "printed"
    assert _status(jobs, "receipt", first["id"]) == "uncertain"
    # 2. the next sale's drawer kick is in the printer when it dies; its receipt waits behind it
    second = _kill_mid_job(service, till, printer, DRAWER_KICK)
    jobs = till.jobs()
    assert _status(jobs, "drawer", second["id"]) == "uncertain"
    wait_for(lambda: _status(till.jobs(), "receipt", second["id"]) == "printed", what="the queue behind moving on")

    # never sent again by itself: after the restarts the printer got the second receipt, nothing else
    time.sleep(1.5)
    whole = [read(j) for j in printer.jobs]
    texts = ["\n".join(d.lines) for d in whole]
    assert sum(first["sale_no"] in t for t in texts) == 0 and sum(second["sale_no"] in t for t in texts) == 1
    assert sum(bool(d.commands("ESC p")) for d in whole) == 1  # the first sale's drawer, once; the second's never

    # the till is told at once: the printer's state carries the count, and the list says what each is
    printer_state = wait_for(lambda: next((d for d in till.call("GET", "/devices") if d["name"] == "printer"
                                           and (d["detail"] or {}).get("uncertain") == 2), None),
                             what="the printer's state with the uncertain jobs")
    assert printer_state["connected"] is True and "可能未打印完整" in printer_state["text"]
    uncertain = till.call("GET", "/print-jobs/uncertain")
    assert [(j["kind"], j["what"]) for j in uncertain] == [
        ("receipt", f"小票 {first['sale_no']}"), ("drawer", f"钱箱（小票 {second['sale_no']}）")]
    assert all(j["status_label"] == "可能未打印完整" for j in uncertain)
    receipt_job, drawer_job = (j["id"] for j in uncertain)

    # refused: sending an uncertain job again as it was (a second copy without 重打), a drawer kick again
    refused = till.call("POST", f"/print-jobs/{receipt_job}/retry", 409)
    assert refused["code"] == "PRINT-UNCERTAIN"
    refused = till.call("POST", f"/print-jobs/{drawer_job}/resolve", 409, json={"reprint": True})
    assert refused["code"] == "PRINT-DRAWER" and "钥匙" in refused["message_zh"]

    # the cashier's decisions: the receipt again, marked 重打; the drawer opened by key
    done = till.call("POST", f"/print-jobs/{receipt_job}/resolve", json={"reprint": True})
    assert done["resolved"]["status"] == "resolved" and done["reprint"]["reprint"] is True
    again = wait_for(lambda: next((d for d in (read(j) for j in printer.jobs)
                                   if any(first["sale_no"] in ln for ln in d.lines)), None), what="the reprint")
    assert "重打" in again.lines[0]
    assert till.call("POST", f"/print-jobs/{drawer_job}/resolve", json={"reprint": False})["reprint"] is None
    assert till.call("GET", "/print-jobs/uncertain") == []
    wait_for(lambda: next((d for d in till.call("GET", "/devices") if d["name"] == "printer"
                           and (d["detail"] or {}).get("uncertain") == 0), None), what="the till's state updated")
    # decided once: a second decision, or a retry, is refused
    assert till.call("POST", f"/print-jobs/{receipt_job}/resolve", 409, json={"reprint": True})["code"] == \
        "PRINT-NOT-UNCERTAIN"
    assert till.call("POST", f"/print-jobs/{receipt_job}/retry", 409)["code"] == "PRINT-DONE"
    time.sleep(1)
    assert sum(first["sale_no"] in "\n".join(read(j).lines) for j in printer.jobs) == 1  # one reprint, once

    with read_session(engine) as s:
        actions = [a for (a,) in s.execute(sa.text(
            "SELECT action FROM audit_entry WHERE entity = 'print_job' AND action IN "
            "('print_job.uncertain', 'print_job.resolve') ORDER BY seq"))]
        assert actions == ["print_job.uncertain", "print_job.uncertain", "print_job.resolve", "print_job.resolve"]
        assert audit.verify(s, ctx.store_id).ok
    assert "cut off by a restart" in service.log.read_text(encoding="utf-8")  # and the service's log says so
