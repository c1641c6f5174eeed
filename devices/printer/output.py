"""Where a laid-out document goes: the printer is a parameter of the renderer.

`PreviewOutput` collects the lines as plain text (the till's preview, the tests' expectations);
`EscposOutput` drives any python-escpos printer (Network, Serial, Usb, or Dummy to collect the bytes).
The renderer hands both the same lines, already padded to the paper's columns in printed bytes, so the
preview and the paper agree column for column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # python-escpos loads a large capabilities table: only when bytes are made
    from escpos.escpos import Escpos

from typing import Protocol

from devices.printer import gbk

ESC_INIT = b"\x1b@"
FS_CHINESE_ON = b"\x1c&"  # FS &: the printer's Chinese (double-byte GB) mode
ALIGN_LEFT = b"\x1ba\x00"
BOLD = {True: b"\x1bE\x01", False: b"\x1bE\x00"}
SIZE = {True: b"\x1d!\x11", False: b"\x1d!\x00"}  # GS !: double width and height for titles


class Output(Protocol):
    columns: int

    def line(self, text: str = "", bold: bool = False, big: bool = False) -> None: ...

    def barcode(self, data: str) -> None: ...

    def qr(self, data: str) -> None: ...

    def cut(self) -> None: ...


def qr_rows(data: str, invert: bool = True) -> list[str]:
    """`data` as a QR code in half blocks (two modules a row), its quiet zone included: what the preview shows (the
    till's dark 小票 screen: inverted, so it reads dark on light) and the terminal draws."""
    import io

    import qrcode

    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=invert)
    return out.getvalue().splitlines()


class PreviewOutput:
    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.lines: list[str] = []

    def line(self, text: str = "", bold: bool = False, big: bool = False) -> None:
        # A double-width title occupies twice its bytes on paper: shown spaced out to the same width.
        self.lines.append(" ".join(text) if big and text.strip() else text)

    def barcode(self, data: str) -> None:
        self.lines.append(gbk.pad(f"||| {data} |||", self.columns, "center"))

    def qr(self, data: str) -> None:
        rows = qr_rows(data)
        left = " " * max(0, (self.columns - max(len(r) for r in rows)) // 2)
        self.lines.extend(left + r for r in rows)

    def cut(self) -> None:
        self.lines.append("-" * self.columns + " (切纸)")

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines) + "\n"


class EscposOutput:
    def __init__(self, printer: Escpos, columns: int) -> None:
        self.columns = columns
        self.printer = printer
        # Reset, then Chinese mode: python-escpos's text() would pick a Western code page (devices.md §9).
        printer._raw(ESC_INIT + FS_CHINESE_ON)
        self._bold = False
        self._big = False

    def line(self, text: str = "", bold: bool = False, big: bool = False) -> None:
        if bold != self._bold:
            self.printer._raw(BOLD[bold])
            self._bold = bold
        if big != self._big:
            self.printer._raw(SIZE[big])
            self._big = big
        self.printer._raw(gbk.encode(text) + b"\n")

    def barcode(self, data: str) -> None:
        # CODE128 set B, printed by the printer itself (GS k): no image, any width of paper. The library's
        # hardware path is called directly: barcode() prints a notice to stdout on every call.
        self.printer._hw_barcode("{B" + data, "CODE128", height=60, width=3 if self.columns >= 42 else 2,
                                 pos="BELOW", font="A", align_ct=True, function_type="B", check=True)
        self.printer._raw(ALIGN_LEFT)

    def qr(self, data: str) -> None:
        # The printer's own QR (GS ( k, model 2, ECC M): no image to rasterise, sharp at any dot size. Centred by the
        # printer's alignment (the library's `center` is for images only).
        from escpos.constants import QR_ECLEVEL_M

        self.printer._raw(b"\x1ba\x01")
        self.printer.qr(data, ec=QR_ECLEVEL_M, size=6 if self.columns >= 42 else 5, native=True)
        self.printer._raw(b"\n" + ALIGN_LEFT)

    def cut(self) -> None:
        self.printer.cut()
