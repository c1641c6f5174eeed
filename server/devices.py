"""The device manager: builds the configured drivers at start-up, runs them beside the service, and
connects them to the till that owns them (settings.till.code) through the event hub.

Scans become `scan` events on the till's stream; each device's status (connected, last event, last
error) is kept as that till's `state` and served by GET /devices. Other device work plugs in through
`register_device` (the card reader's watcher does): a builder gets the settings and a sink, and returns
a device with start / stop / status — or None when it is not configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from devices.base import Device, DeviceSink, DeviceStatus, StatusBoard
from devices.card import DEMO_CARDS, CardReaderDevice, CardRecord, SimulatedCardReader, card_reader_for
from devices.card.errors import CardError
from devices.printer import EscposPrinter, PrinterConfig, SimulatedPrinter
from devices.scanner import SerialScanner, SerialScannerConfig, SimulatedScanner, Suffix
from server.config import Settings
from server.errors import AppError
from server.events import EventHub
from server.workers.printing import PrintWorker

log = logging.getLogger("dingdian.devices")


class HubSink:
    """A device's reports, addressed to the till that owns it."""

    def __init__(self, hub: EventHub, till_code: str) -> None:
        self.hub = hub
        self.till_code = till_code

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.hub.publish(self.till_code, kind, data)

    def status(self, status: DeviceStatus) -> None:
        self.hub.set_state(self.till_code, status.name, status.as_state())


DeviceBuilder = Callable[[Settings, DeviceSink], Device | None]
_BUILDERS: dict[str, DeviceBuilder] = {}


def register_device(name: str, builder: DeviceBuilder) -> None:
    """Add a device family to every manager built from now on (e.g. "card_reader")."""
    _BUILDERS[name] = builder


class HidScanner:
    """A keyboard-wedge scanner types into the till; the service only shows that it is configured so."""

    name = "scanner"

    def __init__(self, sink: DeviceSink) -> None:
        self.board = StatusBoard(self.name, "hid", sink)

    def start(self) -> None:
        self.board.update(connected=True, text="键盘扫码枪（直接输入收款机）")

    def stop(self) -> None:
        pass

    def status(self) -> DeviceStatus:
        return self.board.current


def printer_config(settings: Settings, till_code: str | None = None) -> PrinterConfig:
    """A till's printer (`[printers.<code>]` over `[devices]`); the service's own till's by default."""
    d = settings.till_devices(till_code or settings.till.code)
    return PrinterConfig(driver=d.printer, columns=d.printer_columns, host=d.printer_host, port=d.printer_port,
                         timeout_s=d.printer_timeout_seconds, serial_port=d.printer_serial_port,
                         serial_baudrate=d.printer_serial_baud, usb_vendor=d.printer_usb_vendor,
                         usb_product=d.printer_usb_product, status_check=d.printer_status_check,
                         cash_drawer=d.cash_drawer)


def build_scanner(settings: Settings, sink: DeviceSink) -> Device:
    d = settings.devices
    if d.scanner == "serial":
        return SerialScanner(SerialScannerConfig(port=d.scanner_port, baudrate=d.scanner_baud,
                                                 suffix=Suffix(d.scanner_suffix), max_frame=d.scanner_max_frame,
                                                 frame_gap_s=d.scanner_frame_gap_ms / 1000), sink)
    if d.scanner == "hid":
        return HidScanner(sink)
    return SimulatedScanner(sink, Suffix(d.scanner_suffix), d.scanner_max_frame)


def build_card_reader(settings: Settings, sink: DeviceSink) -> Device:
    """The configured card reader; its `card` events carry the masked record only (SEC-06)."""
    return CardReaderDevice(card_reader_for(settings.devices), sink)


register_device("card_reader", build_card_reader)


class DeviceManager:
    def __init__(self, settings: Settings, hub: EventHub, engine: Engine, store_id: int,
                 worker_options: dict[str, float] | None = None) -> None:
        self.settings = settings
        self.hub = hub
        self.sink = HubSink(hub, settings.till.code)
        self.devices: dict[str, Device] = {}
        self.started = False
        self.add(build_scanner(settings, self.sink))
        retry_max = settings.devices.printer_retry_max_seconds
        options = {"backoff_min_s": min(1.0, retry_max), "backoff_max_s": retry_max, **(worker_options or {})}
        # Each printing till's worker on that till's printer, reporting to that till's status bar; the service's
        # own till's is its "printer" device, the others' run beside it (started and stopped with it).
        self.printers: dict[str, PrintWorker] = {}
        for code in settings.printing_tills():
            cfg = printer_config(settings, code)
            printer = SimulatedPrinter(cfg) if cfg.driver == "simulated" else EscposPrinter(cfg)
            sink = self.sink if code == settings.till.code else HubSink(hub, code)
            self.printers[code] = PrintWorker(engine, settings, store_id, printer, cfg.driver, sink, till_code=code,
                                              **options)
        self.add(self.printers[settings.till.code])
        for name, builder in _BUILDERS.items():
            try:
                device = builder(settings, self.sink)
            except Exception:  # one device family failing to build must not keep the till from selling
                log.exception("devices: building %s failed", name)
                continue
            if device is not None:
                self.add(device)

    def add(self, device: Device) -> None:
        """Manage one more device (started at once if the manager already runs)."""
        self.devices[device.name] = device
        if self.started:
            self._start(device)

    def start(self) -> None:
        self.started = True
        for device in self.devices.values():
            self._start(device)
        for worker in self._other_printers():
            self._start(worker)

    def _other_printers(self) -> list[PrintWorker]:
        return [w for code, w in self.printers.items() if code != self.settings.till.code]

    def _start(self, device: Device) -> None:
        try:
            device.start()
        except Exception as exc:
            log.exception("devices: %s did not start", device.name)
            status = device.status()
            self.sink.status(DeviceStatus(status.name, status.driver, False, "设备启动失败",
                                          last_error=f"设备启动失败 / the device did not start: {exc}"))

    def stop(self) -> None:
        for device in [*self._other_printers(), *reversed(list(self.devices.values()))]:
            try:
                device.stop()
            except Exception:
                log.exception("devices: %s did not stop cleanly", device.name)
        self.started = False

    def statuses(self, till_code: str | None = None) -> list[DeviceStatus]:
        """The devices as `till_code` sees them: the service's own, with that till's printer in place of its own."""
        worker = self.printers.get(till_code or self.settings.till.code)
        return [worker.status() if name == "printer" and worker is not None else device.status()
                for name, device in self.devices.items()]

    @property
    def print_worker(self) -> PrintWorker:
        worker = self.devices["printer"]
        if not isinstance(worker, PrintWorker):
            raise TypeError(f"the printer device is a {type(worker).__name__}, not the print worker")
        return worker

    # --- the demo's hands on the simulated devices ---------------------------------------------------

    def simulated_scan(self, code: str) -> bool:
        scanner = self.devices.get("scanner")
        if not isinstance(scanner, SimulatedScanner):
            raise _not_simulated("scanner", "扫码枪")
        return scanner.scan(code)

    def simulated_printer(self, till_code: str | None = None) -> SimulatedPrinter:
        """A till's printer when it is the simulated one (the demo's hands, the paper it keeps); else a 409."""
        worker = self.printers.get(till_code or self.settings.till.code)
        if worker is None:
            raise AppError(409, "PRINTER-NONE", f"收款机 {till_code} 未配置打印机（config.toml [printers.{till_code}]）",
                           f"till {till_code} has no printer configured ([printers.{till_code}] in config.toml)",
                           {"till_code": till_code})
        if not isinstance(worker.printer, SimulatedPrinter):
            raise _not_simulated("printer", "打印机")
        return worker.printer

    def simulate_printer(self, online: bool | None, paper: bool | None, till_code: str | None = None) -> PrintWorker:
        printer = self.simulated_printer(till_code)
        if online is not None:
            printer.online = online
        if paper is not None:
            printer.paper = paper
        worker = self.printers[till_code or self.settings.till.code]
        worker.look()
        return worker


    # --- the card in the till's reader --------------------------------------------------------------

    @property
    def card_reader(self) -> CardReaderDevice | None:
        device = self.devices.get("card_reader")
        return device if isinstance(device, CardReaderDevice) else None

    def current_card(self) -> CardRecord | None:
        """The card in this till's reader as last read: the whole record (ID number included), for
        the card-settlement flow only; what the till sees is the masked `card` event."""
        reader = self.card_reader
        return reader.current_card() if reader is not None else None

    def insert_demo_card(self, key: str = "employee") -> CardRecord:
        """The demo's hand: put a demo card (devices.card.demo_cards: employee 310 / resident 390) into
        the simulated reader; the till gets the same `card` event a real card would give."""
        reader = self._card_reader_or_409()
        if not isinstance(reader.reader, SimulatedCardReader):
            raise _not_simulated("card_reader", "读卡器")
        try:
            return reader.insert_demo(key)
        except KeyError:
            raise AppError(404, "NOT_FOUND", f"没有演示卡“{key}”", f"no demo card {key!r}",
                           {"known": sorted(DEMO_CARDS)}) from None

    def remove_demo_card(self) -> bool:
        reader = self._card_reader_or_409()
        if not isinstance(reader.reader, SimulatedCardReader):
            raise _not_simulated("card_reader", "读卡器")
        return reader.remove_demo()

    def read_card(self) -> CardRecord:
        """Read the card now (the till's 读卡 key); a reader problem is a 409 naming it in both languages."""
        reader = self._card_reader_or_409()
        try:
            return reader.read_now()
        except CardError as exc:
            raise AppError(409, exc.code, exc.message_zh, exc.message_en, exc.details) from None

    def _card_reader_or_409(self) -> CardReaderDevice:
        reader = self.card_reader
        if reader is None:
            raise AppError(409, "CARD_NO_READER", "未配置读卡器", "no card reader is configured", {})
        return reader


def _not_simulated(name: str, zh: str) -> AppError:
    return AppError(409, "DEVICE-NOT-SIMULATED", f"{zh}不是模拟设备，不能在演示中操作",
                    f"the {name} is a real device here; only a simulated one can be driven from the demo",
                    {"device": name})
