"""A till's print worker: takes the till's pending jobs in order and sends them to its printer.

One thread per printing till (settings.printing_tills: the service's own till and each `[printers.<code>]`),
each on its own printer, so one till's printer away holds up no other till's receipts. A job is claimed
(pending → printing, committed) before a byte is sent, and marked printed only after the printer
confirmed it, so a retry never prints it twice; a printer that is not there sends the job back to
pending and the worker waits (with backoff) — the order of the queue is kept. Enqueuing wakes it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from sqlalchemy import Engine

from devices.base import DeviceSink, DeviceStatus, StatusBoard, now_iso
from devices.printer import PrinterUnavailable, SimulatedPrinter, Slip, drawer_kick, escpos_bytes, preview
from devices.printer.documents import LabelSheet, QrSheet, ReceiptDoc, RxReviewSlip, ZReportDoc, from_json
from server.config import Settings
from server.db.models import PrintJobKind
from server.db.uow import core_unit, read_session
from server.services import printing
from server.services.context import Ctx
from server.services.sale import receipt

log = logging.getLogger("dingdian.print")

_DOCS: dict[str, type] = {PrintJobKind.RECEIPT.value: ReceiptDoc, PrintJobKind.Z_REPORT.value: ZReportDoc,
                          PrintJobKind.RX_SLIP.value: RxReviewSlip, PrintJobKind.LABELS.value: LabelSheet,
                          PrintJobKind.QR_CODES.value: QrSheet}
_KIND_ZH = {"receipt": "小票", "z_report": "交班报表", "rx_slip": "处方审核单", "drawer": "钱箱", "labels": "价签",
            "qr_codes": "二维码"}


class Sender(Protocol):
    def send(self, job: bytes) -> None: ...

    def check(self) -> None: ...


def job_bytes(kind: str, document: dict[str, Any], columns: int) -> bytes:
    if kind == PrintJobKind.DRAWER.value:
        return drawer_kick()
    return escpos_bytes(from_json(_DOCS[kind], document), columns)


class PrintWorker:
    name = "printer"

    def __init__(self, engine: Engine, settings: Settings, store_id: int, printer: Sender, driver: str,
                 sink: DeviceSink, poll_s: float = 2.0, backoff_min_s: float = 1.0, backoff_max_s: float = 15.0,
                 till_code: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.store_id = store_id
        self.till_code = till_code or settings.till.code
        self.printer = printer
        self.columns = settings.till_devices(self.till_code).printer_columns
        self.board = StatusBoard(self.name, driver, sink)
        self.poll_s = poll_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._look = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None
        self.printed = 0

    def _ctx(self) -> Ctx:
        return Ctx(self.store_id, self.settings)

    def status(self) -> DeviceStatus:
        return self.board.current

    def start(self) -> None:
        with core_unit(self.engine) as u:
            cut_off = printing.recover_interrupted(u, self._ctx(), self.till_code)
        if cut_off:  # the till shows them at once (the printer's state carries the count) and offers the reprint
            log.warning("print: %d job(s) of till %s were cut off by a restart; marked uncertain until the cashier "
                        "decides", cut_off, self.till_code)
        self._unsubscribe = printing.on_enqueued(self.wake)
        self._thread = threading.Thread(target=self._run, name=f"print-worker-{self.till_code}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._unsubscribe:
            self._unsubscribe()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def look(self) -> None:
        """Ask the printer how it is now (and show it) before the next drain: the demo switched it off or on."""
        self._look.set()
        self._wake.set()

    def _check(self) -> None:
        """An idle printer is shown as it is (ready, or why not), not as unknown until the next job."""
        self._look.clear()
        try:
            self.printer.check()
            self._publish(ok=True)
        except PrinterUnavailable as exc:
            self._publish(ok=False, error=exc.describe())

    def _run(self) -> None:
        delay = self.backoff_min_s
        self._look.set()
        while not self._stop.is_set():
            self._wake.clear()
            if self._look.is_set():
                try:
                    self._check()
                except Exception:  # the database away for a moment (the waiting count) must not end the worker
                    log.exception("print: printer check failed")
            try:
                healthy = self.drain()
            except Exception:  # the database away for a moment must not end the worker
                log.exception("print: worker step failed")
                healthy = False
            if healthy:
                delay = self.backoff_min_s
                self._wake.wait(self.poll_s)
            else:
                self._wake.wait(delay)  # a manual retry or a new job wakes it early
                delay = min(delay * 2, self.backoff_max_s)

    def drain(self) -> bool:
        """Print every pending job in order; False as soon as the printer fails (the job stays pending)."""
        printed = 0
        while not self._stop.is_set():
            with read_session(self.engine) as s:  # most wake-ups find the queue empty: no writer's lock for that
                if not printing.has_pending(s, self._ctx(), self.till_code):
                    if printed:  # the status bar learns once the queue is empty, not after every job
                        self._publish(ok=True)
                    return True
            with core_unit(self.engine) as u:
                job = printing.claim_next(u, self._ctx(), self.till_code)
            if job is None:  # the queue emptied meanwhile (another worker, expired drawer kicks): look again
                continue
            laid_out, document = None, job.document
            if not document and job.kind != PrintJobKind.DRAWER.value:
                with read_session(self.engine) as s:
                    laid_out = document = receipt.lay_out(s, self._ctx(), job)
            try:
                out = self._render(job, document)
            except Exception as exc:  # a document that cannot be laid out must not block the queue behind it
                log.exception("print: job %s cannot be laid out", job.id)
                with core_unit(self.engine) as u:
                    printing.mark_failed(u, self._ctx(), job.id, f"无法排版 / cannot lay out: {exc}", final=True)
                continue
            try:
                if isinstance(out, bytes):
                    self.printer.send(out)
                elif isinstance(self.printer, SimulatedPrinter):
                    self.printer.print_slip(out)
            except PrinterUnavailable as exc:
                with core_unit(self.engine) as u:
                    printing.mark_failed(u, self._ctx(), job.id, exc.describe())
                log.warning("print: job %s (%s) kept: %s", job.id, job.kind, exc.en)
                self._publish(ok=False, error=exc.describe())
                return False
            # Not fsynced on its own: if a crash loses this mark, the job is found "printing" at start-up and
            # becomes "uncertain" (never resent by itself) — the claim before the send is the durable step.
            with core_unit(self.engine, durable=False) as u:
                printing.mark_printed(u, self._ctx(), job.id, laid_out)
            self.printed += 1
            printed += 1
            self.board.event(f"{job.kind} #{job.id} printed", printed=self.printed)
            if not self.board.current.connected:  # back after a failure: say so now, not after the backlog
                self._publish(ok=True)
        return True

    def _render(self, job: Any, document: dict[str, Any]) -> bytes | Slip:
        """What the printer takes: ESC/POS bytes, or for the simulated printer the text as it would come out."""
        if not isinstance(self.printer, SimulatedPrinter) or job.kind == PrintJobKind.DRAWER.value:
            return job_bytes(job.kind, document, self.columns)
        text = preview(from_json(_DOCS[job.kind], document), self.columns)
        return Slip(job.id, job.kind, job.ref, job.reprint, text, now_iso())

    def _publish(self, ok: bool, error: str | None = None) -> None:
        with read_session(self.engine) as s:
            waiting = printing.waiting_count(s, self._ctx(), self.till_code)
            uncertain = printing.uncertain_count(s, self._ctx(), self.till_code)
        detail = {**(self.board.current.detail or {}), "waiting": waiting, "uncertain": uncertain}
        if not ok:
            self.board.update(connected=False, text=f"打印机不可用，{waiting} 张待打印", last_error=error,
                              last_error_at=self.board.current.last_error_at if error == self.board.current.last_error
                              else now_iso(), detail=detail)
        else:
            text = "打印机就绪" if waiting == 0 else f"打印机就绪，{waiting} 张待处理"
            if uncertain:
                text += f"（{uncertain} 张可能未打印完整，请确认）"
            self.board.update(connected=True, text=text, last_error=None, last_error_at=None, detail=detail)
