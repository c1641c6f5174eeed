"""The 进销存 as an XLSX workbook: one sheet per table (batches, items, by GSP class, by 医保 category) and the
inspector's checks; Chinese headers, the header row frozen, quantities as integers and money in 元 with two
decimals; under each table its totals twice — as SUM formulas (what Excel shows and recalculates) and as the
values the ledger gives (合计（核对）), so a reader or a test sees the two agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reports.export import headers, sheets, values
from reports.ledger import LedgerReport, LedgerRow

QTY_FORMAT = "#,##0"
MONEY_FORMAT = "#,##0.00"
FORMULA_LABEL, VALUE_LABEL = "合计", "合计（核对）"


def write(report: LedgerReport, path: Path) -> Path:
    # write-only: rows streamed to the file with their formats (a year's 进销存 is many thousand styled cells; the
    # ordinary workbook keeps every cell as an object and took seconds per thousand rows)
    wb = Workbook(write_only=True)
    heads = headers(report)
    bold = Font(bold=True)
    for title, rows in sheets(report):
        ws = wb.create_sheet(title)
        for n, h in enumerate(heads, start=1):
            ws.column_dimensions[get_column_letter(n)].width = 14 if h.figure else 16
        ws.freeze_panes = "A2"
        head = []
        for h in heads:
            cell = WriteOnlyCell(ws, h.zh)
            cell.font, cell.alignment = bold, Alignment(wrap_text=True, vertical="center")
            head.append(cell)
        ws.append(head)
        formats = [(MONEY_FORMAT if h.money else QTY_FORMAT) if h.figure else None for h in heads]
        for r in rows:
            ws.append(_cells(ws, values(report, r), formats))
        last = len(rows) + 1
        ws.append(_cells(ws, _totals_formulas(heads, last), formats, bold))
        ws.append(_cells(ws, _totals_values(report, heads, rows), formats, bold))
    _checks_sheet(wb, report)
    wb.properties.title = f"进销存 {report.start.isoformat()} — {report.end.isoformat()}"
    wb.save(path)
    return path


def _cells(ws: Any, row: list[Any], formats: list[str | None], font: Font | None = None) -> list[Any]:
    out: list[Any] = []
    for v, fmt in zip(row, formats, strict=True):
        if fmt is None and font is None:
            out.append(v)
            continue
        cell = WriteOnlyCell(ws, v)
        if fmt is not None:
            cell.number_format = fmt
        if font is not None:
            cell.font = font
        out.append(cell)
    return out


def _totals_formulas(heads: list[Any], last: int) -> list[Any]:
    out: list[Any] = []
    for n, h in enumerate(heads, start=1):
        if n == 1:
            out.append(FORMULA_LABEL)
        elif h.figure:
            letter = get_column_letter(n)
            out.append(f"=SUM({letter}2:{letter}{last})" if last >= 2 else 0)
        else:
            out.append(None)
    return out


def _totals_values(report: LedgerReport, heads: list[Any], rows: Any) -> list[Any]:
    total = LedgerRow(None, None, {}, label=VALUE_LABEL)
    for r in rows:
        total.add(r)
    cells = values(report, total)
    return [VALUE_LABEL if n == 0 else (c if h.figure else None) for n, (c, h) in enumerate(zip(cells, heads, strict=True))]


def _checks_sheet(wb: Workbook, report: LedgerReport) -> None:
    ws = wb.create_sheet("核查")
    for letter, width in zip("ABCD", (24, 10, 30, 80), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    ws.append(_cells(ws, ["核查项", "结论", "对象", "说明"], [None] * 4, Font(bold=True)))
    for line in (report.checks.lines() if report.checks is not None else []):
        ws.append(list(line))
    unbalanced = report.unbalanced()
    ws.append(["期初+入库−出库=期末", "合格" if not unbalanced else "不合格", f"{len(unbalanced)} 行不平",
               "每行数量与金额均核对" if not unbalanced else
               "; ".join(f"{r.identity.get('code')} {r.identity.get('batch_no', '')}" for r in unbalanced[:20])])
