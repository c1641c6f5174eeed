"""The durable print queue against real python-escpos printers: a TCP listener on a free port (network
printer, port 9100 in a store) and a pty (serial printer). Printing never blocks a sale; a job survives
a printer that is switched off, runs out of paper or dies mid-job, prints whole when the printer is
back, and is never printed twice by a retry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import select

from devices.printer import EscposPrinter, PrinterConfig, PrinterUnavailable
from devices.printer.documents import to_json
from server.config import Settings
from server.db.models import AuditEntry, PrintJob, PrintJobKind, Sale
from server.db.models.base import id_of, table_of
from server.db.uow import core_unit, orm, read_session
from server.services import printing
from server.services.context import Ctx
from server.services.sale import receipt
from tests.conftest import BARCODE_AMOX, BARCODE_VITC, Shop, make_settings, prescribe, service_state, till_login
from tests.devices.escpos_reader import Document, read
from tests.devices.fake_printer import PtyPrinter, TcpPrinter
from tests.server.test_duty_cli import _qualify
from tests.server.test_selling import new_sale, pay_cash, scan
from tests.tamper import behind_the_guard

STATUS_QUERIES = (b"\x10\x04\x01", b"\x10\x04\x04")


@pytest.fixture
def backend() -> str:
    """The queue's claim is a compare-and-set both backends run the same; SQLite keeps these tests quick."""
    return "sqlite"


@pytest.fixture
def tcp_printer() -> Iterator[TcpPrinter]:
    printer = TcpPrinter().start()
    yield printer
    printer.stop()


@pytest.fixture
def t02_printer() -> Iterator[TcpPrinter]:
    """The second till's own printer ([printers.T02]: its port; the rest as [devices])."""
    printer = TcpPrinter().start()
    yield printer
    printer.stop()


@pytest.fixture
def settings(db_url: str, tcp_printer: TcpPrinter, t02_printer: TcpPrinter) -> Settings:
    return make_settings(db_url, devices={"printer": "network", "printer_port": tcp_printer.port,
                                          "printer_columns": 32, "printer_retry_max_seconds": 0.3,
                                          "printer_timeout_seconds": 2},
                         printers={"T02": {"printer_port": t02_printer.port, "printer_columns": 42}})


def wait_for(cond: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def job_doc(raw: bytes) -> Document:
    """A connection's bytes without the driver's status queries (before and after the job)."""
    assert raw.startswith(STATUS_QUERIES[0] + STATUS_QUERIES[1]) and raw.endswith(STATUS_QUERIES[0])
    return read(raw[6:-3])


def app_ctx(shop: Shop) -> tuple[Engine, Ctx]:
    state = service_state(shop["client"])
    return state.engine, Ctx(state.store_id, state.settings)


def sell(shop: Shop, cash: bool = True) -> dict[str, Any]:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 2)
    scan(c, h, sid, BARCODE_VITC)
    prescribe(shop, sid, [(shop["items"]["amox"], 2, False)])  # RX-01
    if cash:
        r = pay_cash(c, h, sid, 2850, 3000)
    else:
        r = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "other", "amount_fen": 2850,
                                                                "reference": "POS-1"}]}, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def enqueue(shop: Shop, sale_id: str) -> int:
    """What the sale's completion does (the lead wires it): queue the receipt in its own transaction."""
    engine, ctx = app_ctx(shop)
    with core_unit(engine) as u:
        return id_of(receipt.enqueue_receipt(u, ctx, sale_id))


def job(shop: Shop, job_id: int) -> PrintJob:
    engine, _ = app_ctx(shop)
    with read_session(engine) as s:
        row = s.get(PrintJob, job_id)
    assert row is not None, f"no print job {job_id}"
    return row


def test_a_cash_sale_prints_its_receipt_and_opens_the_drawer(shop: Shop, tcp_printer: TcpPrinter) -> None:
    c = shop["client"]
    engine, ctx = app_ctx(shop)
    _qualify(engine, ctx, "u_pharmacist", shop["clock"].today + timedelta(days=400))
    assert c.post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"]).status_code == 201
    sale = sell(shop)
    first = enqueue(shop, sale["id"])
    assert enqueue(shop, sale["id"]) == first  # a replayed completion queues nothing new
    drawer, receipt = tcp_printer.wait_jobs(2)
    assert job_doc(drawer).commands("ESC p") and not job_doc(drawer).lines  # the drawer first, nothing printed
    doc = job_doc(receipt)
    text = "\n".join(doc.lines)
    for expected in (sale["sale_no"], "收款机 T01", "收银员 测试cashier", "药师 测试pharmacist", "【处方药】",
                     "阿莫西林胶囊 0.25g*24粒", "【甲类非处方药】", "维生素C片", "￥28.50", "￥30.00", "找零", "￥1.50",
                     "谢谢惠顾"):
        assert expected in text, expected
    assert [b.data for b in doc.barcodes] == ["{B" + sale["sale_no"]] and len(doc.cuts) == 1
    assert all(len(raw) <= 32 for raw in doc.raw_lines)
    wait_for(lambda: job(shop, first).status == "printed", what="the job to be marked printed")
    listed = c.get("/print-jobs", params={"status": "printed"}, headers=shop["cashier"]).json()
    assert sorted(j["kind"] for j in listed) == ["drawer", "receipt"]
    time.sleep(0.5)
    assert len(tcp_printer.jobs) == 2  # nothing printed twice


def test_a_printer_dying_mid_job_keeps_the_job_prints_it_whole_when_back_and_never_twice(
        shop: Shop, tcp_printer: TcpPrinter) -> None:
    tcp_printer.drop_after = 300  # the printer takes 300 bytes of the receipt and dies
    sale = sell(shop, cash=False)
    job_id = enqueue(shop, sale["id"])
    assert wait_for(lambda: tcp_printer.torn, what="the torn attempt")[0][:6] == STATUS_QUERIES[0] + STATUS_QUERIES[1]
    (whole,) = tcp_printer.wait_jobs(1)  # the next attempt (automatic, after a short backoff) prints it whole
    doc = job_doc(whole)
    assert doc.lines[0].strip() and sale["sale_no"] in "\n".join(doc.lines) and len(doc.cuts) == 1
    done = wait_for(lambda: (j := job(shop, job_id)).status == "printed" and j, what="printed")
    assert done.attempts == 2 and done.last_error == ""
    retry = shop["client"].post(f"/print-jobs/{job_id}/retry", headers=shop["cashier"])
    assert retry.status_code == 409 and retry.json()["code"] == "PRINT-DONE"
    time.sleep(0.6)
    assert len(tcp_printer.jobs) == 1 and len(tcp_printer.torn) == 1


def test_a_printer_switched_off_leaves_the_job_pending_and_shown_until_it_is_back(
        shop: Shop, tcp_printer: TcpPrinter) -> None:
    c, h = shop["client"], shop["cashier"]
    tcp_printer.stop()
    sale = sell(shop, cash=False)  # the sale completes whatever the printer does
    job_id = enqueue(shop, sale["id"])
    wait_for(lambda: job(shop, job_id).attempts >= 1 and job(shop, job_id).status == "pending", what="a failed try")
    assert "未连接" in job(shop, job_id).last_error
    # The worker marks the job back to pending, then tells the status bar: under load a reader can come between
    # the two (this test's old flake), so the device's state is waited for, not read once.
    printer = wait_for(lambda: next((d for d in c.get("/devices", headers=h).json()
                                     if d["name"] == "printer" and "未连接" in (d["last_error"] or "")), None),
                       what="the printer shown away")
    assert printer["connected"] is False and printer["detail"]["waiting"] == 1
    # and between two tries (every 0.3 s here) the job is briefly "printing": the queue shows it waiting
    pending = wait_for(lambda: c.get("/print-jobs", params={"status": "pending"}, headers=h).json(), what="pending")
    assert [j["id"] for j in pending] == [job_id] and pending[0]["status_label"] == "待打印"
    back = TcpPrinter(tcp_printer.port).start()  # switched on again, same address
    try:
        (data,) = back.wait_jobs(1)
        assert sale["sale_no"] in "\n".join(job_doc(data).lines)
        wait_for(lambda: job(shop, job_id).status == "printed", what="printed")
        wait_for(lambda: next(d for d in c.get("/devices", headers=h).json() if d["name"] == "printer")["connected"],
                 what="the printer shown back")
    finally:
        back.stop()


def test_out_of_paper_waits_for_paper(shop: Shop, tcp_printer: TcpPrinter) -> None:
    tcp_printer.paper = False
    job_id = enqueue(shop, sell(shop, cash=False)["id"])
    wait_for(lambda: "缺纸" in job(shop, job_id).last_error, what="the paper-out error")
    assert tcp_printer.jobs == [] or all(len(j) <= 6 for j in tcp_printer.jobs)  # only the status queries went out
    tcp_printer.paper = True
    wait_for(lambda: job(shop, job_id).status == "printed", what="printed after paper")


def test_a_reprint_is_marked_audited_and_refused_for_an_unfinished_sale(shop: Shop,
                                                                       tcp_printer: TcpPrinter) -> None:
    c, h = shop["client"], shop["cashier"]
    sale = sell(shop, cash=False)
    (first,) = tcp_printer.wait_jobs(1)  # completing the sale queued its receipt
    assert "重打" not in job_doc(first).lines[0]
    r = c.post(f"/sales/{sale['id']}/receipt", headers=h)
    assert r.status_code == 201 and r.json()["reprint"] is True
    _, data = tcp_printer.wait_jobs(2)
    assert "重打" in job_doc(data).lines[0]
    engine, _ = app_ctx(shop)
    with read_session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "receipt.reprint")).one()
    assert entry.after is not None and entry.after["sale_no"] == sale["sale_no"] and entry.actor == "u_cashier"
    open_sale = new_sale(c, h)
    refused = c.post(f"/sales/{open_sale}/receipt", headers=h)
    assert refused.status_code == 409 and refused.json()["code"] == "PRINT-NOT-FINAL"
    missing = c.post("/sales/00000000-0000-4000-8000-000000000000/receipt", headers=h)
    assert missing.status_code == 404


def test_a_job_cut_off_by_a_restart_is_not_resent_until_someone_decides(shop: Shop,
                                                                        tcp_printer: TcpPrinter) -> None:
    c, h = shop["client"], shop["cashier"]
    engine, ctx = app_ctx(shop)
    sale = sell(shop, cash=False)
    tcp_printer.wait_jobs(1)  # the receipt the completion queued
    with core_unit(engine) as u:  # as the database looks after a crash in the middle of a send
        sold = orm(u).get(Sale, sale["id"])
        assert sold is not None
        doc = to_json(receipt.receipt_doc(orm(u), ctx, sold))
        stuck = printing.add_job(u, ctx, "T01", PrintJobKind.RECEIPT, sale["id"], doc)
        u.connection().execute(sa.update(table_of(PrintJob)).where(table_of(PrintJob).c.id == stuck.id)
                               .values(status="printing", attempts=1))
    with core_unit(engine) as u:
        assert printing.recover_interrupted(u, ctx, "T01") == 1  # what the worker does at start-up
    time.sleep(0.5)
    assert job(shop, stuck.id).status == "uncertain" and len(tcp_printer.jobs) == 1
    r = c.post(f"/print-jobs/{stuck.id}/retry", headers=h)  # sent again as it was: a second copy without 重打
    assert r.status_code == 409 and r.json()["code"] == "PRINT-UNCERTAIN"
    r = c.post(f"/print-jobs/{stuck.id}/resolve", json={"reprint": True}, headers=h)
    assert r.status_code == 200 and r.json()["resolved"]["status"] == "resolved"
    _, again = tcp_printer.wait_jobs(2)
    assert "重打" in job_doc(again).lines[0] and sale["sale_no"] in "\n".join(job_doc(again).lines)
    wait_for(lambda: job(shop, r.json()["reprint"]["id"]).status == "printed", what="printed")
    assert job(shop, stuck.id).status == "resolved"
    with read_session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "print_job.resolve")).one()
        assert entry.entity_id == str(stuck.id) and entry.after is not None and entry.after["reprint_job_id"] == r.json()["reprint"]["id"]


def test_a_drawer_kick_that_could_not_happen_at_once_expires(shop: Shop, tcp_printer: TcpPrinter) -> None:
    tcp_printer.stop()
    sale = sell(shop, cash=True)
    enqueue(shop, sale["id"])
    engine, ctx = app_ctx(shop)
    with read_session(engine) as s:
        drawer = s.exec(select(PrintJob).where(PrintJob.kind == "drawer")).one()
    with behind_the_guard(engine, "print_job") as conn:  # the printer stays away past the drawer's window
        conn.execute(sa.update(table_of(PrintJob)).where(table_of(PrintJob).c.id == drawer.id)
                     .values(expires_at=ctx.now - timedelta(seconds=1)))
    back = TcpPrinter(tcp_printer.port).start()
    try:
        (data,) = back.wait_jobs(1)
        assert not job_doc(data).commands("ESC p")  # only the receipt: the drawer does not fly open later
        assert wait_for(lambda: job(shop, id_of(drawer)).status == "expired", what="expired")
    finally:
        back.stop()


@pytest.mark.business_day
def test_the_z_report_prints_and_reprints(shop: Shop, tcp_printer: TcpPrinter) -> None:
    c, h, today = shop["client"], shop["cashier"], shop["clock"].today.isoformat()
    sell(shop, cash=False)
    tcp_printer.wait_jobs(1)  # the sale's receipt
    z = c.post(f"/shifts/{shop['shift_id']}/close", json={"counted_cash_fen": 20000}, headers=h)
    assert z.status_code == 200  # closing the shift queued its Z report
    tcp_printer.wait_jobs(2)
    r = c.post(f"/shifts/{shop['shift_id']}/z-report/print", headers=h)
    assert r.status_code == 201
    _, first, again = tcp_printer.wait_jobs(3)
    text = "\n".join(job_doc(first).lines)
    assert "交班报表" in text and "销售 1 笔" in text and "￥28.50" in text and "重打" not in text
    # the shift's business day and its times are the store's (a shift opened at 00:00:01 is the new day's)
    assert [ln for ln in job_doc(first).lines if ln.startswith("营业日")] == [f"营业日{today:>{32 - 6}}"]
    assert any(ln.startswith("开班") and today in ln for ln in job_doc(first).lines)
    assert "重打" in job_doc(again).lines[0]


def test_a_serial_printer_on_a_pty() -> None:
    pty = PtyPrinter()
    try:
        printer = EscposPrinter(PrinterConfig("serial", columns=32, serial_port=pty.path, timeout_s=1))
        printer.send(b"\x1b@\x1c&" + "维生素C片 ￥3.50\n".encode("gbk"))
        wait_for(lambda: pty.received.endswith(STATUS_QUERIES[0]), what="the job on the serial line")
        assert read(bytes(pty.received)[6:-3]).lines == ["维生素C片 ￥3.50"]
        pty.paper = False
        with pytest.raises(PrinterUnavailable) as err:
            printer.send(b"x\n")
        assert err.value.reason == "no_paper" and "缺纸" in err.value.zh
    finally:
        pty.close()


def test_each_till_prints_on_its_own_printer(shop: Shop, tcp_printer: TcpPrinter,
                                            t02_printer: TcpPrinter) -> None:
    """Two registered tills, two printers ([devices] for T01, [printers.T02] for T02): each till's receipt comes
    out of its own printer only, and each till's status bar shows its own printer."""
    c = shop["client"]
    t01 = sell(shop, cash=False)
    t02 = till_login(c, "u_cashier", "1111", "T02")
    assert c.post("/shifts", json={"float_fen": 0}, headers=t02).status_code == 201
    sid = new_sale(c, t02)
    scan(c, t02, sid, BARCODE_VITC, 2)
    done = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "other", "amount_fen": 700,
                                                                  "reference": "POS-2"}]}, headers=t02)
    assert done.status_code == 200, done.text
    (first,) = tcp_printer.wait_jobs(1)
    (second,) = t02_printer.wait_jobs(1)
    text_1, text_2 = "\n".join(job_doc(first).lines), "\n".join(job_doc(second).lines)
    assert t01["sale_no"] in text_1 and "收款机 T01" in text_1 and done.json()["sale_no"] not in text_1
    assert done.json()["sale_no"] in text_2 and "收款机 T02" in text_2 and t01["sale_no"] not in text_2
    assert all(len(raw) <= 42 for raw in job_doc(second).raw_lines) and any(
        len(raw) > 32 for raw in job_doc(second).raw_lines)  # T02's own paper width (80 mm), not T01's 58 mm
    engine, _ = app_ctx(shop)
    with read_session(engine) as s:
        jobs = {j.till_code: j for j in s.exec(select(PrintJob).where(PrintJob.kind == "receipt"))}
    assert set(jobs) == {"T01", "T02"}
    wait_for(lambda: job(shop, id_of(jobs["T02"])).status == "printed", what="T02's receipt marked printed")
    time.sleep(0.5)
    assert len(tcp_printer.jobs) == 1 and len(t02_printer.jobs) == 1  # never on the other till's printer
    # each till sees its own printer: T02's switched off shows on T02 alone, and its receipt waits for it
    t02_printer.stop()
    sid = new_sale(c, t02)
    scan(c, t02, sid, BARCODE_VITC)
    assert c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "other", "amount_fen": 350,
                                                                  "reference": "POS-3"}]}, headers=t02).status_code == 200
    away = wait_for(lambda: next((d for d in c.get("/devices", headers=t02).json() if d["name"] == "printer"
                                  and "未连接" in (d["last_error"] or "")), None), what="T02's printer shown away")
    assert away["connected"] is False and str(t02_printer.port) in away["last_error"]
    mine = next(d for d in c.get("/devices", headers=shop["cashier"]).json() if d["name"] == "printer")
    assert mine["connected"] is True and mine["last_error"] is None
    assert len(tcp_printer.jobs) == 1  # T01's printer took nothing of T02's
