"""Plain tables to XLSX and CSV, for the statements (the 进销存 has its own writer, reports.export.xlsx, shaped by
its layout): Chinese headers, the header row frozen, quantities as integers and money in 元 with two decimals; under
a table with totals, its totals twice — as SUM formulas (what Excel recalculates) and as the values the report
computed from the ledger (合计（核对）), so a reader or a test sees the two agree. CSV: UTF-8 with a byte-order mark
(Excel opens it as UTF-8), every table one after another, each row led by its table's name."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

QTY_FORMAT = "#,##0"
MONEY_FORMAT = "#,##0.00"
FORMULA_LABEL, VALUE_LABEL = "合计", "合计（核对）"


@dataclass(frozen=True, slots=True)
class Col:
    zh: str
    kind: str = "text"  # text | count | money (fen in the report, 元 in the file)
    width: int = 14

    @property
    def figure(self) -> bool:
        return self.kind != "text"


@dataclass
class Table:
    title: str
    columns: Sequence[Col]
    rows: list[list[Any]] = field(default_factory=list)  # money in fen
    total: list[Any] | None = None  # the report's own totals row (figures in fen): written twice, checked equal


def yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _cell(col: Col, v: Any) -> Any:
    return yuan(v) if col.kind == "money" and isinstance(v, int) else v


def write_xlsx(tables: Sequence[Table], path: Path, title: str) -> Path:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for t in tables:
        ws = wb.create_sheet(t.title)
        for n, c in enumerate(t.columns, start=1):
            ws.column_dimensions[get_column_letter(n)].width = c.width
        ws.freeze_panes = "A2"
        head = []
        for c in t.columns:
            cell = WriteOnlyCell(ws, c.zh)
            cell.font, cell.alignment = bold, Alignment(wrap_text=True, vertical="center")
            head.append(cell)
        ws.append(head)
        made: dict[tuple[int, bool], Any] = {}
        for r in t.rows:
            ws.append(_styled(ws, t.columns, r, made=made))
        if t.total is not None:
            last = len(t.rows) + 1
            formulas: list[Any] = [FORMULA_LABEL] + [
                (f"=SUM({get_column_letter(n)}2:{get_column_letter(n)}{last})" if last >= 2 else 0) if c.figure
                else None for n, c in enumerate(t.columns[1:], start=2)]
            ws.append(_styled(ws, t.columns, formulas, bold))
            values = [VALUE_LABEL] + [v if c.figure else None for v, c in zip(t.total[1:], t.columns[1:], strict=True)]
            ws.append(_styled(ws, t.columns, values, bold))
    wb.properties.title = title
    wb.save(path)
    return path


def _styled(ws: Any, cols: Sequence[Col], row: list[Any], font: Font | None = None,
            made: dict[tuple[int, bool], Any] | None = None) -> list[Any]:
    """A row's cells: plain values for text, a styled cell per figure. With `made`, one styled cell per column is
    made once and given each row's value (a write-only sheet writes a row out as it is appended): styling every
    cell anew cost a month's statement seconds."""
    out: list[Any] = []
    for n, (c, v) in enumerate(zip(cols, row, strict=True)):
        if not c.figure and font is None:
            out.append(v)
            continue
        cell = made.get((n, font is not None)) if made is not None else None
        if cell is None:
            cell = WriteOnlyCell(ws)
            if c.figure:
                cell.number_format = MONEY_FORMAT if c.kind == "money" else QTY_FORMAT
            if font is not None:
                cell.font = font
            if made is not None:
                made[(n, font is not None)] = cell
        cell.value = _cell(c, v)
        out.append(cell)
    return out


def write_csv(tables: Sequence[Table], path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        for t in tables:
            w.writerow(["表", *(c.zh for c in t.columns)])
            for r in t.rows:
                w.writerow([t.title, *("" if v is None else str(_cell(c, v)) for c, v in zip(t.columns, r,
                                                                                           strict=True))])
            if t.total is not None:
                w.writerow([t.title, *("" if v is None else str(_cell(c, v)) for c, v in zip(t.columns, t.total,
                                                                                           strict=True))])
    return path
