"""The serial barcode scanner (RS-232, USB-serial, USB CDC-ACM) through pyserial.

The port stays open (opening a port flushes its input, devices.md §7); a reader thread feeds every byte
to the frame splitter. When the scanner is unplugged the read fails: the unterminated tail is dropped,
the till is told, and the port is reopened with backoff until the scanner is back — no restart needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from devices.base import DeviceSink, DeviceStatus, StatusBoard
from devices.scanner.framing import FrameSplitter, Suffix
from devices.scanner.scan import ScanPipeline

log = logging.getLogger("dingdian.devices.scanner")


@dataclass(frozen=True, slots=True)
class SerialScannerConfig:
    port: str  # /dev/serial/by-id/usb-… (stable across re-plugging), /dev/ttyACM0, or a pyserial URL
    baudrate: int = 9600
    suffix: Suffix = Suffix.CR
    max_frame: int = 512
    frame_gap_s: float = 0.05  # suffix NONE only: the pause that ends a code
    read_timeout_s: float = 0.1  # how often the reader looks up to notice a stop request
    backoff_min_s: float = 0.1
    backoff_max_s: float = 5.0


class SerialScanner:
    name = "scanner"

    def __init__(self, config: SerialScannerConfig, sink: DeviceSink,
                 open_port: Callable[..., Any] = serial.serial_for_url) -> None:
        self.config = config
        self.board = StatusBoard(self.name, "serial", sink)
        self.splitter = FrameSplitter(config.suffix, config.max_frame)
        self.pipeline = ScanPipeline(self.board, sink, "serial")
        self._open_port = open_port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.opened = 0  # how many times the port was (re)opened: tests and GET /devices read it

    def status(self) -> DeviceStatus:
        return self.board.current

    def start(self) -> None:
        self.board.update(text="扫码枪连接中")
        self._thread = threading.Thread(target=self._run, name="scanner-serial", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = self.config.backoff_min_s
        while not self._stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                if self.board.current.connected or self.board.current.last_error is None:
                    log.warning("scanner: cannot open %s: %s (retrying)", self.config.port, exc)
                self.board.disconnected("扫码枪未连接，重试中",
                                        f"扫码枪端口 {self.config.port} 无法打开 / cannot open the scanner port: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.backoff_max_s)
                continue
            delay = self.config.backoff_min_s
            self.opened += 1
            log.info("scanner: %s open", self.config.port)
            self.board.connected("扫码枪已连接")
            try:
                self._read(port)
            except (serial.SerialException, OSError) as exc:
                self.pipeline.handle(self.splitter.discard("partial"))
                log.warning("scanner: %s gone: %s (reopening)", self.config.port, exc)
                self.board.disconnected("扫码枪已断开，重试中", f"扫码枪连接中断 / the scanner went away: {exc}")
            finally:
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
        self.board.update(connected=False, text="扫码枪已停止")

    def _open(self) -> Any:
        cfg = self.config
        timeout = min(cfg.read_timeout_s, cfg.frame_gap_s) if cfg.suffix is Suffix.NONE else cfg.read_timeout_s
        kwargs: dict[str, Any] = {"baudrate": cfg.baudrate, "timeout": timeout}
        if "://" not in cfg.port:
            kwargs["exclusive"] = True  # a second reader of the same scanner would steal its codes
        return self._open_port(cfg.port, **kwargs)

    def _read(self, port: Any) -> None:
        gap_mode = self.config.suffix is Suffix.NONE
        last_byte = time.monotonic()
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            if data:
                self.pipeline.handle(self.splitter.feed(data))
                last_byte = time.monotonic()
            elif gap_mode and self.splitter.pending and time.monotonic() - last_byte >= self.config.frame_gap_s:
                self.pipeline.handle(self.splitter.end_of_frame())
