"""The simulated scanner for the demo and the tests: `scan("6901234567892")` is a code scanned.

The code goes through the same framing and classification as a real scanner's bytes, suffix included,
so what the till receives is exactly what a serial scanner would have delivered.
"""

from __future__ import annotations

from devices.base import DeviceSink, DeviceStatus, StatusBoard
from devices.scanner.framing import FrameSplitter, Suffix
from devices.scanner.scan import ScanPipeline


class SimulatedScanner:
    name = "scanner"

    def __init__(self, sink: DeviceSink, suffix: Suffix = Suffix.CR, max_frame: int = 512) -> None:
        self.board = StatusBoard(self.name, "simulated", sink)
        self.splitter = FrameSplitter(suffix, max_frame)
        self.pipeline = ScanPipeline(self.board, sink, "simulated")
        self.suffix = suffix

    def status(self) -> DeviceStatus:
        return self.board.current

    def start(self) -> None:
        self.board.connected("模拟扫码枪")

    def stop(self) -> None:
        self.board.update(connected=False, text="模拟扫码枪已停止")

    def scan(self, code: str) -> bool:
        """Scan one code; True if it reached the till (False: dropped, with the reason logged)."""
        before = self.pipeline.scans
        data = code.encode("utf-8") + self.suffix.terminator
        results = self.splitter.feed(data)
        if self.suffix is Suffix.NONE:
            results += self.splitter.end_of_frame()
        results += self.splitter.discard("partial")
        self.pipeline.handle(results)
        return self.pipeline.scans > before
