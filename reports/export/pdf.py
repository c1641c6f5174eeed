"""The 进销存 as a PDF (landscape A4): a first page with the period's totals, the inspector's checks' verdicts and
two charts — the month's sales by GSP class (at retail) and the closing stock value by class (at cost) — then the
tables the XLSX has (by GSP class, by 医保 category, per item, per batch) with the layout's columns, and the checks.

The layout is wide (eleven identity fields, opening, eleven in/out columns and closing, each in quantity, cost and
retail): a table is split into parts across the page (pdf_doc.split), each repeating the code, the name and (per
batch) the batch number, each taking whole column groups. Money in 元 with two decimals, quantities in the
smallest sale unit; a zero is left blank in the rows (a 进销存 is mostly zeros) and shown in the totals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from catalog.classes import GspClass, InsuranceCategory
from reports.export import sheets, yuan
from reports.export.pdf_chart import bars
from reports.export.pdf_doc import Col, Document, Footer, Table
from reports.layout import CLOSING, MEASURES, OPENING
from reports.ledger import Figure, LedgerReport, LedgerRow
from server.rules.movements import Column

KEEP = {"code", "generic_name", "batch_no"}  # repeated in every part of a split table: whose row it is
WRAP = {"generic_name": 26.0, "manufacturer": 30.0, "spec": 18.0, "name": 26.0}  # mm before a text wraps


def money(fen: int, blank_zero: bool = False) -> str:
    return "" if blank_zero and not fen else f"{yuan(fen):,.2f}"


def qty(n: int, blank_zero: bool = False) -> str:
    return "" if blank_zero and not n else f"{n:,}"


def columns(report: LedgerReport, batches: bool) -> list[Col]:
    """The identity fields (a batch's own only on the batch table), then each figure group's 数量 / 成本 / 零售."""
    out = [Col(f.zh, keep=f.key in KEEP, wrap=WRAP.get(f.key, 0.0)) for f in report.layout.identity
           if batches or not f.batch_only]
    groups = (OPENING[1], *(c.zh for c in report.layout.columns), CLOSING[1])
    for g in groups:
        out += [Col(zh if m == "qty" else zh[:2], group=g, align="R") for m, zh, _ in MEASURES]
    return out


def class_label(value: str) -> str:
    """A GSP class or 医保 category as the store reads it (处方药, 乙类 …); the stored value when it is neither."""
    if value in GspClass.__members__.values():
        return GspClass(value).label
    if value in InsuranceCategory.__members__.values():
        return {"none": "目录外"}.get(value, f"{InsuranceCategory(value).label}类")
    return value or "（未分类）"


def cells(report: LedgerReport, row: LedgerRow, batches: bool, blank_zero: bool = True) -> list[str]:
    ident = []
    for n, f in enumerate(report.layout.identity):
        if not batches and f.batch_only:
            continue
        v = class_label(row.label) if n == 0 and row.label and row.label != "合计" else \
            (row.label if n == 0 and row.label else row.identity.get(f.key, ""))
        ident.append(v.isoformat() if hasattr(v, "isoformat") else ("" if v is None else str(v)))
    figs: list[str] = []
    for fig in (row.opening, *(row.col(c.key) for c in report.layout.columns), row.closing):
        figs += [qty(fig.qty, blank_zero), money(fig.cost, blank_zero), money(fig.retail, blank_zero)]
    return ident + figs


def sales_column(report: LedgerReport) -> str | None:
    """The layout's column that holds retail sales (a province's layout may have renamed or merged it)."""
    return next((c.key for c in report.layout.columns if Column.OUT_SALE in c.sources), None)


def _total_of(rows: Sequence[LedgerRow], label: str) -> LedgerRow:
    total = LedgerRow(None, None, {}, label=label)
    for r in rows:
        total.add(r)
    return total


def _figures(report: LedgerReport) -> list[tuple[str, str]]:
    t, lay = report.total, report.layout

    def three(f: Figure) -> str:
        return f"数量 {qty(f.qty)}　成本 {money(f.cost)} 元　零售 {money(f.retail)} 元"

    verdicts = report.checks.verdicts() if report.checks is not None else {}
    names = {"stock": "批次销售不超过期初+入库", "card": "医保销售=医保结算", "counts": "账实差异与盘点单"}
    return [("期间", f"{report.start.isoformat()} 至 {report.end.isoformat()}"),
            ("品种 / 批次", f"{len(report.items)} 个品种，{len(report.batches)} 个批次"),
            ("期初", three(t.opening)), ("入库合计", three(t.total_in(lay))),
            ("出库合计", three(t.total_out(lay))), ("期末", three(t.closing)),
            ("期初+入库−出库=期末", "合格" if not report.unbalanced() else f"不合格：{len(report.unbalanced())} 行不平"),
            *((names.get(k, k), v) for k, v in verdicts.items())]


def write(report: LedgerReport, path: Path, store: str, generated_at: datetime, tz: tzinfo,
          progress: Callable[[int], None] | None = None) -> Path:
    """The PDF at `path`; `progress` is told the rows drawn as the tables are drawn (rows() says how many)."""
    doc = Document(f"进销存报表 {report.start.isoformat()} — {report.end.isoformat()}",
                   Footer(store, f"{report.start.isoformat()} 至 {report.end.isoformat()}", generated_at, tz),
                   landscape=True, font_size=6.5)
    doc.heading(f"药品进销存报表（{report.start.isoformat()} 至 {report.end.isoformat()}）")
    doc.fields(_figures(report), per_row=2)
    sale = sales_column(report)
    by_class = report.by_gsp_class
    half = (doc.width - 10) / 2
    y = doc.pdf.get_y()
    h1 = bars(doc, "本期销售（零售金额）按GSP分类",
              [(class_label(r.gsp_class), r.col(sale).retail if sale else 0) for r in by_class], width=half)
    h2 = bars(doc, "期末库存（成本金额）按GSP分类", [(class_label(r.gsp_class), r.closing.cost) for r in by_class],
              width=half, x=doc.pdf.l_margin + half + 10)
    doc.pdf.set_y(y + max(h1, h2) + 4)
    note = "数量为最小销售单位；金额单位：元；空白为零"
    for title, rows in sheets(report):
        per_batch = title == "批次明细"
        doc.pdf.add_page()
        doc.table(Table(title, columns(report, per_batch), [cells(report, r, per_batch) for r in rows],
                        [cells(report, _total_of(rows, "合计"), per_batch, blank_zero=False)], note), progress)
    lines = list(report.checks.lines()) if report.checks is not None else []
    unbalanced = report.unbalanced()
    lines.append(("期初+入库−出库=期末", "合格" if not unbalanced else "不合格", f"{len(unbalanced)} 行不平",
                  "每行数量与金额均核对"))
    doc.pdf.add_page()
    doc.table(Table("核查", [Col("核查项"), Col("结论"), Col("对象", wrap=50), Col("说明", wrap=120)],
                    [list(map(str, ln)) for ln in lines]))
    return doc.save(path)


def rows(report: LedgerReport) -> int:
    """How many table rows `write` draws (a progress bar's total)."""
    return sum(len(r) + 1 for _, r in sheets(report))

