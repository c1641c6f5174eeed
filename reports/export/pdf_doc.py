"""A printable document in Chinese: the one PDF writer the reports and the stock documents share.

fpdf2 rather than ReportLab: pure Python (its only compiled dependency, Pillow, is in the project already),
it embeds a TrueType font as a subset with a ToUnicode map — so the Chinese prints the same on any machine
and `pdftotext` reads it back — and it draws lines, rectangles and text, all a table and a bar chart need.
ReportLab's CJK path (UnicodeCIDFont) names a font the reader must have, and its TrueType path is slower.

A `Document` is a stack of blocks on A4 pages: a title, fields (label: value), tables, charts, signature lines.
Every page carries the document's title at the top and, at the bottom, the store, the period, when it was
generated (in the store's time) and "第 x/y 页". A `Table` has a header (columns grouped under a spanning
heading, e.g. 期初 over 数量 / 成本 / 零售) repeated on every page, its rows and its totals rows (shaded). A
table wider than the page is split across parts, never squeezed unreadable: each part repeats the columns
marked `keep` (the code and name that say whose row it is) and takes whole groups, left to right, as many as fit.

Another report prints with it in a few lines (cells are the text to show, formatted by the caller):

    doc = Document("刷卡购药明细", Footer(store_name, "2026-12-01 至 2026-12-31", ctx.now, settings.store.tz),
                   landscape=True)
    doc.heading("刷卡购药明细表")
    doc.fields([("清算类别", "…"), ("期间", "…")])
    doc.table(Table("明细", [Col("结算时间", keep=True), Col("姓名"), Col("统筹", group="基金支付", align="R"), …],
                    rows, totals=[["合计", "", "1,234.00", …]], note="金额单位：元"), progress=step)
    doc.signatures([("制表人", name, when)])
    doc.save(path)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal

from fpdf import FPDF

from reports.export.fonts import cjk_font

FONT = "cjk"
MARGIN = 10.0  # mm
PAD = 0.8  # mm, inside a cell
Progress = Callable[[int], None]  # told how many rows were drawn since it was last told


@dataclass(frozen=True, slots=True)
class Col:
    """A table's column: its title, the group heading it stands under ("" for none), how its cells align."""

    title: str
    group: str = ""
    align: Literal["L", "R", "C"] = "L"
    keep: bool = False  # repeated in every part of a table split across the page's width
    wrap: float = 0.0  # mm: text wider than this wraps onto more lines (0: never wraps, the column widens)
    width: float = 0.0  # mm at least (a blank to write in by hand)


@dataclass(slots=True)
class Table:
    title: str
    columns: Sequence[Col]
    rows: Sequence[Sequence[str]]
    totals: Sequence[Sequence[str]] = ()  # shaded rows after the rows (合计)
    note: str = ""  # a line under the title (e.g. "金额单位：元；空白为零")
    row_height: float = 0.0  # mm at least (room to write by hand)


@dataclass(frozen=True, slots=True)
class Footer:
    """What every page's foot says: the store, the period and when the document was generated."""

    store: str
    period: str
    generated_at: datetime  # aware (UTC in the ledger); shown in the store's time zone
    tz: tzinfo
    pages_in_full: bool = False  # "第 x 页 共 y 页", as a paper submission to the agency is numbered

    def pages(self, page: int) -> str:
        """The page's number; {nb} is the page count, put in by the PDF library when the document is written."""
        return f"第 {page} 页 共 {{nb}} 页" if self.pages_in_full else f"第 {page}/{{nb}} 页"

    def text(self) -> str:
        local = self.generated_at.astimezone(self.tz)
        return f"{self.store}  ·  {self.period}  ·  生成于 {local:%Y-%m-%d %H:%M}"


class _Pdf(FPDF):
    def __init__(self, orientation: str, title: str, foot: Footer) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.doc_title, self.foot = title, foot
        self.set_margins(MARGIN, MARGIN + 6, MARGIN)
        self.set_auto_page_break(False)  # the document breaks its own pages (a table's header repeats)
        self.set_title(title)
        self.set_creator("Dingdian POS")
        self.set_creation_date(foot.generated_at)
        path, index = cjk_font()
        self.add_font(FONT, "", str(path), collection_font_number=index)
        self.set_font(FONT, size=9)

    def header(self) -> None:
        self.set_font(FONT, size=8)
        self.set_text_color(90)
        self.text(MARGIN, MARGIN + 2, self.doc_title)
        right = self.foot.store
        self.text(self.w - MARGIN - self.get_string_width(right), MARGIN + 2, right)
        self.set_draw_color(160)
        self.line(MARGIN, MARGIN + 3.2, self.w - MARGIN, MARGIN + 3.2)
        self.set_text_color(0)
        self.set_draw_color(0)

    def footer(self) -> None:
        self.set_font(FONT, size=7.5)
        self.set_text_color(90)
        y = self.h - MARGIN + 2
        self.text(MARGIN, y, self.foot.text())
        # a cell, not text(): the PDF library puts the page count in for {nb} in what cells write
        self.set_xy(self.w - MARGIN - 40, y - 2.6)
        self.cell(40, 3.5, self.foot.pages(self.page_no()), align="R")
        self.set_text_color(0)


@dataclass
class Document:
    """A document being written: add blocks in order, then `save` or `bytes`."""

    title: str
    foot: Footer
    landscape: bool = False
    font_size: float = 8.0  # a table's cells
    pdf: _Pdf = field(init=False)
    _widths: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.pdf = _Pdf("L" if self.landscape else "P", self.title, self.foot)
        self.pdf.add_page()

    # --- geometry ------------------------------------------------------------------------------------------------
    @property
    def width(self) -> float:
        return float(self.pdf.w - 2 * MARGIN)

    @property
    def bottom(self) -> float:
        return float(self.pdf.h - MARGIN - 4)

    def room(self, height: float) -> None:
        """A new page unless `height` fits below the cursor."""
        if self.pdf.get_y() + height > self.bottom:
            self.pdf.add_page()

    def measure(self, text: str) -> float:
        """A string's width at the current font (cached per character: a report measures many cells)."""
        key, total = f"{self.pdf.font_size_pt}", 0.0
        for ch in text:
            w = self._widths.get(key + ch)
            if w is None:
                w = self._widths[key + ch] = float(self.pdf.get_string_width(ch))
            total += w
        return total

    def wrap(self, text: str, width: float) -> list[str]:
        """Text broken into lines no wider than `width`, character by character (Chinese has no spaces to break at);
        a line break in the text is kept."""
        out: list[str] = []
        for para in text.split("\n"):
            line, used = "", 0.0
            for ch in para:
                w = self.measure(ch)
                if line and used + w > width:
                    out.append(line)
                    line, used = "", 0.0
                line += ch
                used += w
            out.append(line)
        return out

    # --- blocks ------------------------------------------------------------------------------------------------------
    def heading(self, text: str, size: float = 14) -> None:
        self.room(size * 0.6 + 4)
        self.pdf.set_font(FONT, size=size)
        self.pdf.set_x(MARGIN)
        self.pdf.cell(self.width, size * 0.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def paragraph(self, text: str, size: float = 9) -> None:
        self.pdf.set_font(FONT, size=size)
        lh = size * 0.45
        for line in self.wrap(text, self.width):
            self.room(lh)
            self.pdf.text(MARGIN, self.pdf.get_y() + lh * 0.8, line)
            self.pdf.set_y(self.pdf.get_y() + lh)
        self.pdf.ln(1.5)

    def fields(self, pairs: Sequence[tuple[str, str]], per_row: int = 2, size: float = 9) -> None:
        """Labelled values in a grid (单号：…  供应商：…), `per_row` to a line."""
        self.pdf.set_font(FONT, size=size)
        lh, cell = size * 0.5, self.width / per_row
        label_w = max((self.measure(f"{k}：") for k, _ in pairs), default=0.0)
        for start in range(0, len(pairs), per_row):
            chunk = pairs[start:start + per_row]
            wrapped = [self.wrap(v, cell - label_w - 2) for _, v in chunk]
            h = lh * max(len(w) for w in wrapped)
            self.room(h)
            y = self.pdf.get_y()
            for n, ((k, _), lines) in enumerate(zip(chunk, wrapped, strict=True)):
                x = MARGIN + n * cell
                self.pdf.set_text_color(90)
                self.pdf.text(x, y + lh * 0.75, f"{k}：")
                self.pdf.set_text_color(0)
                for i, line in enumerate(lines):
                    self.pdf.text(x + label_w, y + lh * (i + 0.75), line)
            self.pdf.set_y(y + h + 0.6)
        self.pdf.ln(1.5)

    def signatures(self, people: Sequence[tuple[str, str, str]], size: float = 9) -> None:
        """Signature lines: (role, the person recorded, when) — and a line to sign by hand beside each."""
        self.pdf.set_font(FONT, size=size)
        lh = 9.0
        self.room(lh * len(people) + 4)
        self.pdf.ln(3)
        for role, name, when in people:
            y = self.pdf.get_y()
            said = f"{role}：{name or '—'}"
            self.pdf.text(MARGIN, y + 5, said)
            if when:
                self.pdf.set_text_color(90)
                self.pdf.text(MARGIN + max(self.width * 0.38, self.measure(said) + 4), y + 5, when)
                self.pdf.set_text_color(0)
            x = MARGIN + self.width * 0.62
            self.pdf.text(x, y + 5, "签字：")
            self.pdf.line(x + self.measure("签字："), y + 6, MARGIN + self.width, y + 6)
            self.pdf.set_y(y + lh)

    def table(self, t: Table, progress: Progress | None = None) -> None:
        """The table, split across the page's width into parts when it is wider; rows never split across pages."""
        self.pdf.set_font(FONT, size=self.font_size)
        widths = self._column_widths(t)
        parts = split(t.columns, widths, self.width)
        for n, cols in enumerate(parts, start=1):
            title = t.title if len(parts) == 1 else f"{t.title}（{n}/{len(parts)}）"
            self._part(t, title, cols, [widths[c] for c in cols], progress if n == 1 else None)

    # --- the table's drawing --------------------------------------------------------------------------------------
    def _column_widths(self, t: Table) -> list[float]:
        out = []
        for i, c in enumerate(t.columns):
            head = max((self.measure(w) for w in _header_words(c.title)), default=0.0)
            body = max((max(map(self.measure, r[i].split("\n"))) for r in [*t.rows, *t.totals] if r[i]), default=0.0)
            w = max(head, min(body, c.wrap) if c.wrap else body) + 2 * PAD
            out.append(max(min(w, self.width / 2), c.width))
        return out

    def _part(self, t: Table, title: str, cols: list[int], widths: list[float], progress: Progress | None) -> None:
        pdf, lh = self.pdf, self.font_size * 0.42
        columns = [t.columns[i] for i in cols]
        head = [self.wrap(c.title, w - 2 * PAD) for c, w in zip(columns, widths, strict=True)]
        grouped = any(c.group for c in columns)
        head_h = lh * max(len(h) for h in head) + 2 * PAD + (lh + 2 * PAD if grouped else 0)

        def page_top(first: bool) -> None:
            self.room(head_h + 14 if first else pdf.h)
            pdf.set_font(FONT, size=10)
            pdf.text(MARGIN, pdf.get_y() + 4, title if first else f"{title}（续）")
            if first and t.note:
                pdf.set_font(FONT, size=7)
                pdf.set_text_color(90)
                pdf.text(MARGIN + self._w_at(title, 10) + 4, pdf.get_y() + 4, t.note)
                pdf.set_text_color(0)
            pdf.set_y(pdf.get_y() + 6)
            pdf.set_font(FONT, size=self.font_size)
            self._head(columns, widths, head, grouped, lh, head_h)

        page_top(True)
        done = 0
        for rows, shaded in ((t.rows, False), (t.totals, True)):
            for r in rows:
                cells = [r[i] for i in cols]
                # a line break in a cell is kept (a sale's drugs one to a line), never drawn as a glyph
                lines = [self.wrap(v, w - 2 * PAD) if c.wrap and self.measure(v) > w - 2 * PAD
                         else (v.split("\n") if "\n" in v else [v])
                         for v, c, w in zip(cells, columns, widths, strict=True)]
                h = max(lh * max(len(x) for x in lines) + 2 * PAD, t.row_height)
                if pdf.get_y() + h > self.bottom:
                    page_top(False)
                self._row(columns, widths, lines, lh, h, shaded)
                done += 1
                if progress is not None and done % 200 == 0:
                    progress(200)
        if progress is not None and done % 200:
            progress(done % 200)
        pdf.ln(4)

    def _w_at(self, text: str, size: float) -> float:
        before = self.pdf.font_size_pt
        self.pdf.set_font(FONT, size=size)
        w = self.measure(text)
        self.pdf.set_font(FONT, size=before)
        return w

    def _head(self, columns: list[Col], widths: list[float], head: list[list[str]], grouped: bool, lh: float,
              head_h: float) -> None:
        pdf = self.pdf
        x0, y0 = MARGIN, pdf.get_y()
        pdf.set_fill_color(232)
        pdf.rect(x0, y0, sum(widths), head_h, style="DF")
        sub_y = y0
        if grouped:
            sub_y = y0 + lh + 2 * PAD
            x, n = x0, 0
            while n < len(columns):  # a group heading spans its run of columns
                g, span, m = columns[n].group, widths[n], n + 1
                while g and m < len(columns) and columns[m].group == g:
                    span += widths[m]
                    m += 1
                if g:
                    pdf.line(x, sub_y, x + span, sub_y)
                    pdf.text(x + (span - self.measure(g)) / 2, y0 + PAD + lh * 0.8, g)
                x += span
                n = m
        x = x0
        for c, w, lines in zip(columns, widths, head, strict=True):
            top = sub_y if c.group else y0
            for i, line in enumerate(lines):
                pdf.text(x + (w - self.measure(line)) / 2, top + PAD + lh * (i + 0.8), line)
            pdf.line(x, top if c.group else y0, x, y0 + head_h)
            x += w
        pdf.line(x, y0, x, y0 + head_h)
        pdf.set_y(y0 + head_h)

    def _row(self, columns: list[Col], widths: list[float], lines: list[list[str]], lh: float, h: float,
             shaded: bool) -> None:
        pdf = self.pdf
        y, x = pdf.get_y(), MARGIN
        if shaded:
            pdf.set_fill_color(242)
            pdf.rect(x, y, sum(widths), h, style="F")
        for c, w, cell in zip(columns, widths, lines, strict=True):
            pdf.line(x, y, x, y + h)
            for i, line in enumerate(cell):
                if not line:
                    continue
                tx = x + PAD if c.align == "L" else (x + w - PAD - self.measure(line) if c.align == "R"
                                                     else x + (w - self.measure(line)) / 2)
                pdf.text(tx, y + PAD + lh * (i + 0.8), line)
            x += w
        pdf.line(x, y, x, y + h)
        pdf.line(MARGIN, y + h, x, y + h)
        pdf.set_y(y + h)

    # --- output ------------------------------------------------------------------------------------------------------
    def bytes(self) -> bytes:
        return bytes(self.pdf.output())

    def save(self, path: Path) -> Path:
        path.write_bytes(self.bytes())
        return path


def _header_words(title: str) -> list[str]:
    """The shortest a header may be squeezed to: two characters a line (a header wraps; its column need not be as
    wide as the whole title)."""
    return [title[i:i + 2] for i in range(0, len(title), 2)] or [""]


def split(columns: Sequence[Col], widths: Sequence[float], page: float) -> list[list[int]]:
    """The columns of each part of a table wider than the page (indexes, in order): every part starts with the
    `keep` columns, then takes whole groups (a run of columns under one group heading) while they fit."""
    keep = [i for i, c in enumerate(columns) if c.keep]
    rest = [i for i, c in enumerate(columns) if not c.keep]
    if sum(widths) <= page:
        return [list(range(len(columns)))]
    runs: list[list[int]] = []
    for i in rest:
        if runs and columns[i].group and columns[runs[-1][-1]].group == columns[i].group \
                and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    base = sum(widths[i] for i in keep)
    parts: list[list[int]] = []
    current: list[int] = []
    used = base
    for run in runs:
        w = sum(widths[i] for i in run)
        if current and used + w > page:
            parts.append(current)
            current, used = [], base
        current += run
        used += w
    if current:
        parts.append(current)
    return [sorted(keep + p) for p in parts]
