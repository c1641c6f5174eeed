"""Shelf labels (药品标签 / 价签, GSP-04) as an A4 sheet for a label printer or cut by hand.

Each label is the catalog's facts as the label run recorded them (server.rules.labels.LabelFacts): the class mark
in the corner (处方药 red, 甲类OTC red, 乙类OTC green, 中药饮片, 非药品 grey — the colours the OTC marks carry), the
医保 mark (医保甲类 / 医保乙类) boxed opposite it on every 医保 drug, the name, spec, manufacturer (产地 for 中药饮片),
the price per unit large, the barcode's digits and the day printed. The standard label is 70 × 37 mm (three across,
eight down); the small price tag (小价签) 52.5 × 29.7 mm (four by ten) carries the name, spec, price and class mark
only — which is why GSP-04 refuses it for a 医保 drug before it ever reaches here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from fpdf import FPDF

from reports.export import yuan
from reports.export.fonts import cjk_font
from server.rules.labels import LabelFacts, Template, class_mark, insurance_mark

FONT = "cjk"
_GRID = {Template.STANDARD: (3, 8), Template.SMALL: (4, 10)}
_COLOURS = {"处方药": (200, 0, 0), "甲类OTC": (200, 0, 0), "乙类OTC": (0, 140, 60), "中药饮片": (120, 70, 20),
            "非药品": (110, 110, 110)}


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """The text cut (with …) to the width: a label never spills into its neighbour."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _mark(pdf: FPDF, x: float, y: float, text: str, colour: tuple[int, int, int], size: float,
          filled: bool) -> float:
    """A boxed mark; returns its width."""
    pdf.set_font(FONT, size=size)
    w = pdf.get_string_width(text) + 2.4
    h = size * 0.45
    pdf.set_draw_color(*colour)
    if filled:
        pdf.set_fill_color(*colour)
        pdf.set_text_color(255)
    else:
        pdf.set_text_color(*colour)
    pdf.rect(x, y, w, h, style="DF" if filled else "D")
    pdf.set_xy(x, y)
    pdf.cell(w, h, text, align="C")
    pdf.set_text_color(0)
    pdf.set_draw_color(0)
    return w


def _label(pdf: FPDF, f: LabelFacts, x: float, y: float, w: float, h: float, template: Template,
           printed_on: date) -> None:
    pdf.set_draw_color(150)
    pdf.rect(x, y, w, h)
    pdf.set_draw_color(0)
    pad = 2.0
    mark = class_mark(f.gsp_class)
    small = template is Template.SMALL
    _mark(pdf, x + pad, y + pad, mark, _COLOURS.get(mark, (0, 0, 0)), 7 if small else 8, filled=mark != "非药品")
    if template.has_insurance_mark and (ins := insurance_mark(f)):
        pdf.set_font(FONT, size=9)
        iw = pdf.get_string_width(ins) + 2.4
        _mark(pdf, x + w - pad - iw, y + pad, ins, (0, 70, 160), 9, filled=True)
    inner = w - 2 * pad
    pdf.set_font(FONT, size=9.5 if small else 11)
    pdf.text(x + pad, y + pad + (7.6 if small else 9.0), _fit(pdf, f.name, inner))
    pdf.set_font(FONT, size=6.5 if small else 7.5)
    line = y + pad + (11.0 if small else 13.0)
    details = [f"规格：{f.spec}" if f.spec else ""]
    if not small:
        who = f"产地：{f.origin}" if f.gsp_class == "herbal" and f.origin else f"生产企业：{f.manufacturer}" \
            if f.manufacturer else ""
        details.append(who)
    for d in (d for d in details if d):
        pdf.text(x + pad, line, _fit(pdf, d, inner))
        line += 3.4
    price = f"¥{yuan(f.price_fen):,.2f}"
    pdf.set_font(FONT, size=13 if small else 17)
    pw = pdf.get_string_width(price)
    base = y + h - pad - (1.2 if small else 4.0)
    pdf.text(x + w - pad - pw - 6, base, price)
    pdf.set_font(FONT, size=7)
    pdf.text(x + w - pad - 5.6, base, f"/{f.unit}")
    if not small:
        pdf.set_font(FONT, size=6)
        pdf.text(x + pad, y + h - pad - 0.6, _fit(pdf, f"{f.barcode or f.code}  ·  {printed_on:%Y-%m-%d}", inner))


def write(labels: Sequence[LabelFacts], template: Template, printed_on: date, title: str = "药品价签",
          path: Path | None = None) -> bytes:
    """The labels on as many A4 pages as they take; written to `path` too when given."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(title)
    pdf.set_creator("Dingdian POS")
    font, index = cjk_font()
    pdf.add_font(FONT, "", str(font), collection_font_number=index)
    across, down = _GRID[template]
    w, h = 210.0 / across, 297.0 / down
    per_page = across * down
    for n, f in enumerate(labels):
        if n % per_page == 0:
            pdf.add_page()
        at = n % per_page
        _label(pdf, f, (at % across) * w, (at // across) * h, w, h, template, printed_on)
    body = bytes(pdf.output())
    if path is not None:
        path.write_bytes(body)
    return body
