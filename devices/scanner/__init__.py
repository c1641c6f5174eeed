"""Barcode scanners: the serial driver (pyserial), the simulated one, and the framing they share.
Keyboard-wedge (HID) scanners type into the till; `catalog.codes.classify_code` is shared by both paths."""

from devices.scanner.framing import Dropped, Frame, FrameSplitter, Suffix
from devices.scanner.scan import ScanPipeline, scan_event
from devices.scanner.serial_scanner import SerialScanner, SerialScannerConfig
from devices.scanner.simulated import SimulatedScanner

__all__ = ["Dropped", "Frame", "FrameSplitter", "ScanPipeline", "SerialScanner", "SerialScannerConfig",
           "SimulatedScanner", "Suffix", "scan_event"]
