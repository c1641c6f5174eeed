"""A bar chart drawn with the PDF's own lines and rectangles: a handful of classes (GSP 分类) and their amounts
read better as bars than as a column of figures, and a few rectangles need no plotting library (matplotlib
would bring tens of megabytes and its own fonts to set up for Chinese)."""

from __future__ import annotations

from collections.abc import Sequence

from reports.export.pdf_doc import FONT, MARGIN, Document

BAR = (64, 112, 160)


def bars(doc: Document, title: str, series: Sequence[tuple[str, int]], fmt: str = "{:,.2f} 元",
         scale: float = 0.01, width: float | None = None, x: float = MARGIN) -> float:
    """Horizontal bars, one per (label, amount in fen), longest to scale, each with its figure; drawn at the cursor,
    `width` wide from `x` (the page's width by default). The height used is returned (the cursor is not moved),
    so two charts can stand side by side."""
    pdf = doc.pdf
    w = width if width is not None else doc.width
    row, size = 6.0, 8.0
    height = 8 + row * max(len(series), 1) + 2
    y0 = float(pdf.get_y())
    pdf.set_font(FONT, size=10)
    pdf.text(x, y0 + 4, title)
    pdf.set_font(FONT, size=size)
    labels = [label or "（未分类）" for label, _ in series]
    figures = [fmt.format(v * scale) for _, v in series]
    label_w = max((doc.measure(s) for s in labels), default=0.0) + 2
    figure_w = max((doc.measure(s) for s in figures), default=0.0) + 2
    span = max(w - label_w - figure_w, 10.0)
    top = max((abs(v) for _, v in series), default=0) or 1
    axis = x + label_w
    pdf.set_draw_color(120)
    pdf.line(axis, y0 + 6, axis, y0 + 8 + row * max(len(series), 1))
    pdf.set_draw_color(0)
    pdf.set_fill_color(*BAR)
    for n, ((_, v), label, figure) in enumerate(zip(series, labels, figures, strict=True)):
        y = y0 + 8 + n * row
        pdf.text(axis - 1 - doc.measure(label), y + row * 0.65, label)
        length = span * abs(v) / top
        if length > 0:
            pdf.rect(axis, y + 1, length, row - 2, style="F")
        pdf.text(axis + length + 1, y + row * 0.65, figure)
    if not series:
        pdf.text(axis + 2, y0 + 8 + row * 0.65, "（无数据）")
    return height
