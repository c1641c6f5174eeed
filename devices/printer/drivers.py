"""Printer drivers: send one job's bytes to a network (TCP 9100), USB or serial ESC/POS printer.

A job either reaches the printer whole or fails with a `PrinterUnavailable` naming why, so the print queue
can keep it and try again. Before a job the printer is asked whether it is online and has paper
(DLE EOT, answered in real time); after the job's last byte it is asked once more — an answer that comes
back after the job proves the printer took every byte of it (a printer that dropped the connection
mid-job cannot answer). python-escpos's own failure modes (devices.md §9) are all caught: nothing
listening, a host that does not answer, a printer that stops reading, a dropped connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import serial

if TYPE_CHECKING:  # python-escpos loads a large capabilities table: imported where a printer is driven
    from escpos.escpos import Escpos

log = logging.getLogger("dingdian.devices.printer")

# DLE EOT answers: bit 3 of the online status = offline; bits 5+6 of the paper sensor = paper end.
_OFFLINE_BIT = 0x08
_PAPER_END_BITS = 0x60


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    driver: str  # simulated | network | usb | serial
    columns: int = 42
    host: str = "127.0.0.1"
    port: int = 9100
    timeout_s: float = 5.0  # python-escpos's default is 60 s: far too long to hold a job
    serial_port: str = ""
    serial_baudrate: int = 9600
    usb_vendor: int = 0
    usb_product: int = 0
    status_check: bool = True  # ask DLE EOT before and after each job (printers that never answer: off)
    cash_drawer: bool = True  # kick the drawer (ESC p, pin 2) on cash sales

    @property
    def where(self) -> str:
        return {"network": f"{self.host}:{self.port}", "serial": self.serial_port,
                "usb": f"USB {self.usb_vendor:04x}:{self.usb_product:04x}"}.get(self.driver, self.driver)


class PrinterUnavailable(Exception):
    """The job did not (provably) reach the printer; it stays queued."""

    def __init__(self, reason: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.reason = reason  # not_found | timeout | offline | no_paper | dropped
        self.zh = zh
        self.en = en

    def describe(self) -> str:
        return f"{self.zh} / {self.en}"


def make_device(cfg: PrinterConfig) -> Escpos:
    from escpos.printer import Network, Serial, Usb

    if cfg.driver == "network":
        return Network(cfg.host, port=cfg.port, timeout=cfg.timeout_s)
    if cfg.driver == "serial":
        return Serial(cfg.serial_port, baudrate=cfg.serial_baudrate, timeout=cfg.timeout_s, dsrdtr=False)
    if cfg.driver == "usb":
        return Usb(cfg.usb_vendor, cfg.usb_product, timeout=int(cfg.timeout_s * 1000))
    raise ValueError(f"no ESC/POS device for driver {cfg.driver!r}")


def drawer_kick() -> bytes:
    from escpos.printer import Dummy

    dummy = Dummy()
    dummy.cashdraw(2)
    return dummy.output


class EscposPrinter:
    """One job at a time to a real printer; each job opens its own connection (printers drop idle ones)."""

    def __init__(self, config: PrinterConfig, device: Callable[[PrinterConfig], Escpos] = make_device) -> None:
        self.config = config
        self._device = device
        self._lock = threading.Lock()

    def send(self, job: bytes) -> None:
        from escpos.constants import RT_STATUS_ONLINE
        from escpos.exceptions import DeviceNotFoundError

        cfg = self.config
        with self._lock:
            dev = self._device(cfg)
            try:
                dev.open()
                if cfg.status_check:
                    self._ready(dev)
                dev._raw(job)
                if cfg.status_check and self._status(dev, RT_STATUS_ONLINE) is None:
                    raise PrinterUnavailable("dropped", "打印机未确认收到整张单据", "the printer did not confirm the job")
            except PrinterUnavailable:
                raise
            except DeviceNotFoundError as exc:
                timed_out = "timed out" in str(exc)
                raise PrinterUnavailable(
                    "timeout" if timed_out else "not_found",
                    f"打印机 {cfg.where} {'无应答' if timed_out else '未连接'}",
                    f"printer {cfg.where} {'does not answer' if timed_out else 'is not reachable'}") from exc
            except TimeoutError as exc:
                raise PrinterUnavailable("timeout", f"打印机 {cfg.where} 无应答", f"printer {cfg.where} stopped answering") from exc
            except (OSError, serial.SerialException, ValueError) as exc:
                raise PrinterUnavailable("dropped", f"打印机 {cfg.where} 连接中断", f"printer {cfg.where} dropped the connection: {exc}") from exc
            finally:
                _close(dev)

    def check(self) -> None:
        """Is the printer there, online, with paper? (asked once when the service starts, so that an idle printer
        is shown as it is). Without status queries (printer_status_check off) it cannot be asked: assumed there."""
        if not self.config.status_check:
            return
        self.send(b"")

    def _ready(self, dev: Escpos) -> None:
        from escpos.constants import RT_STATUS_ONLINE, RT_STATUS_PAPER

        where = self.config.where
        online = self._status(dev, RT_STATUS_ONLINE)
        if online is None:
            raise PrinterUnavailable("offline", f"打印机 {where} 未应答状态查询", f"printer {where} does not answer")
        if online & _OFFLINE_BIT:
            raise PrinterUnavailable("offline", f"打印机 {where} 离线（开盖或故障）", f"printer {where} is offline")
        paper = self._status(dev, RT_STATUS_PAPER)
        if paper is not None and paper & _PAPER_END_BITS == _PAPER_END_BITS:
            raise PrinterUnavailable("no_paper", f"打印机 {where} 缺纸", f"printer {where} is out of paper")

    def _status(self, dev: Escpos, query: bytes) -> int | None:
        """One status byte, or None when the printer does not answer (closed, silent)."""
        dev._raw(query)
        answer = _read_one(dev)
        return answer[0] if answer else None


def _read_one(dev: Escpos) -> bytes:
    from escpos.printer import Network, Serial

    device: Any = dev.device
    if isinstance(dev, Network):
        return device.recv(1)
    if isinstance(dev, Serial):
        return device.read(1)  # python-escpos reads 16 and waits out the timeout for the other 15
    return dev._read()[:1]


def _close(dev: Escpos) -> None:
    try:
        dev.close()
    except Exception as exc:  # closing a broken connection must not hide why it broke
        log.debug("printer: close failed: %s", exc)


@dataclass(frozen=True, slots=True)
class Slip:
    """One document as the simulated printer put it on paper: its text (the renderer's preview)."""

    job_id: int
    kind: str  # receipt | z_report | rx_slip
    ref: str
    reprint: bool
    text: str
    printed_at: str


class SimulatedPrinter:
    """The demo's printer: keeps what it printed as text (the last 50 slips, for the till's 小票 screen); can be
    switched offline or out of paper. It is given text, not ESC/POS bytes: nobody reads its bytes."""

    def __init__(self, config: PrinterConfig, keep: int = 50) -> None:
        self.config = config
        self.online = True
        self.paper = True
        self.keep = keep
        self.slips: list[Slip] = []
        self.drawer_kicks = 0
        self._lock = threading.Lock()

    def check(self) -> None:
        if not self.online:
            raise PrinterUnavailable("offline", "模拟打印机离线", "the simulated printer is offline")
        if not self.paper:
            raise PrinterUnavailable("no_paper", "模拟打印机缺纸", "the simulated printer is out of paper")

    def send(self, job: bytes) -> None:
        """Raw bytes (a drawer kick): nothing to keep but the count."""
        self.check()
        with self._lock:
            self.drawer_kicks += 1

    def print_slip(self, slip: Slip) -> None:
        self.check()
        with self._lock:
            self.slips.append(slip)
            del self.slips[:-self.keep]

    def recent(self, limit: int = 20) -> list[Slip]:
        """The slips printed last, newest first."""
        with self._lock:
            return self.slips[::-1][:limit]
