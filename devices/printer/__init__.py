"""The receipt printer: one renderer (preview or ESC/POS bytes), GBK text, python-escpos drivers."""

from devices.printer.documents import (
    CardSettlement,
    ReceiptDoc,
    ReceiptLine,
    RxReviewSlip,
    RxSlipLine,
    StoreHeader,
    TenderLine,
    ZReportDoc,
)
from devices.printer.drivers import (
    EscposPrinter,
    PrinterConfig,
    PrinterUnavailable,
    SimulatedPrinter,
    Slip,
    drawer_kick,
)
from devices.printer.render import escpos_bytes, preview, render

__all__ = ["CardSettlement", "EscposPrinter", "PrinterConfig", "PrinterUnavailable", "ReceiptDoc", "ReceiptLine",
           "RxReviewSlip", "RxSlipLine", "SimulatedPrinter", "Slip", "StoreHeader", "TenderLine", "ZReportDoc",
           "drawer_kick", "escpos_bytes", "preview", "render"]
