"""The 进销存 as an XLSX workbook: one sheet per table (batches, items, by GSP class, by 医保 category) and the
inspector's checks; Chinese headers, the header row frozen, quantities as integers and money in 元 with two
decimals; under each table its totals twice — as SUM formulas (what Excel shows and recalculates) and as the
values the ledger gives (合计（核对）), so a reader or a test sees the two agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reports.export import headers, sheets, values
from reports.ledger import LedgerReport, LedgerRow

QTY_FORMAT = "#,##0"
MONEY_FORMAT = "#,##0.00"
FORMULA_LABEL, VALUE_LABEL = "合计", "合计（核对）"


def write(report: LedgerReport, path: Path) -> Path:
    wb = Workbook()
    first = True
    heads = headers(report)
    for title, rows in sheets(report):
        ws = wb.active if first else wb.create_sheet()
        first = False
        assert ws is not None
        ws.title = title
        ws.append([h.zh for h in heads])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for r in rows:
            ws.append(values(report, r))
        last = ws.max_row
        ws.append(_totals_formulas(heads, last))
        ws.append(_totals_values(report, heads, rows))
        for row_cells in ws.iter_rows(min_row=last + 1, max_row=last + 2):
            for cell in row_cells:
                cell.font = Font(bold=True)
        for n, h in enumerate(heads, start=1):
            letter = get_column_letter(n)
            ws.column_dimensions[letter].width = 14 if h.figure else 16
            if h.figure:
                for (cell,) in ws.iter_rows(min_row=2, min_col=n, max_col=n):
                    cell.number_format = MONEY_FORMAT if h.money else QTY_FORMAT
        ws.freeze_panes = "A2"
    _checks_sheet(wb, report)
    wb.properties.title = f"进销存 {report.start.isoformat()} — {report.end.isoformat()}"
    wb.save(path)
    return path


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
    ws.append(["核查项", "结论", "对象", "说明"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for line in (report.checks.lines() if report.checks is not None else []):
        ws.append(list(line))
    unbalanced = report.unbalanced()
    ws.append(["期初+入库−出库=期末", "合格" if not unbalanced else "不合格", f"{len(unbalanced)} 行不平",
               "每行数量与金额均核对" if not unbalanced else
               "; ".join(f"{r.identity.get('code')} {r.identity.get('batch_no', '')}" for r in unbalanced[:20])])
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCD", (24, 10, 30, 80), strict=True):
        ws.column_dimensions[letter].width = width
