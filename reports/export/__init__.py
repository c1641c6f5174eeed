"""The reports' files: XLSX (openpyxl), CSV (UTF-8 with BOM, so Excel opens it), PDF (fpdf2 and a CJK font:
pdf.py, on the shared writer pdf_doc.py). One table shape for all of them: `sheets` gives the tables of a 进销存,
`headers` and `values` a sheet's header and rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reports.layout import CLOSING, MEASURES, OPENING
from reports.ledger import LedgerReport, LedgerRow


@dataclass(frozen=True, slots=True)
class Header:
    zh: str
    money: bool = False  # fen in the report, 元 in the file
    figure: bool = False  # a number that sums into the totals


def headers(report: LedgerReport) -> list[Header]:
    lay = report.layout
    out = [Header(f.zh) for f in lay.identity]
    for key_zh in (OPENING[1], *(c.zh for c in lay.columns), CLOSING[1]):
        for m, zh, _ in MEASURES:
            out.append(Header(f"{key_zh}{zh}" + ("(元)" if m != "qty" else ""), money=m != "qty", figure=True))
    return out


def yuan(fen: int) -> Decimal:
    """Fen as 元, exactly (two decimals)."""
    return Decimal(fen).scaleb(-2)


def values(report: LedgerReport, row: LedgerRow) -> list[Any]:
    """A row's cells: identity as text (dates ISO), figures as int (qty) or Decimal 元 (money)."""
    lay = report.layout
    cells: list[Any] = []
    for n, f in enumerate(lay.identity):
        v = row.identity.get(f.key, "")
        if n == 0 and row.label:
            v = row.label
        cells.append(v.isoformat() if hasattr(v, "isoformat") else ("" if v is None else v))
    for fig in (row.opening, *(row.col(c.key) for c in lay.columns), row.closing):
        cells += [fig.qty, yuan(fig.cost), yuan(fig.retail)]
    return cells


def sheets(report: LedgerReport) -> list[tuple[str, Sequence[LedgerRow]]]:
    """The report's tables, each with its title: batches, items, the two groupings."""
    return [("批次明细", report.batches), ("品种汇总", report.items), ("按GSP分类汇总", report.by_gsp_class),
            ("按医保类别汇总", report.by_insurance_category)]
