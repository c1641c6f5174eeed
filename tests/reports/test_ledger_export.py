"""The 进销存's files: the XLSX reopened (headers, frozen row, number formats, each table's SUM formulas evaluated
here and equal to the values row and to the ledger), the CSV re-read (UTF-8 with BOM, every figure the ledger's)."""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine, text

from reports import ledger
from reports.export import csv as csv_export
from reports.export import xlsx
from server.services.context import Ctx
from tests.conftest import seed_shop
from tests.reports import ledger_data

SUM = re.compile(r"^=SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)$")


def _report(engine: Engine, ctx: Ctx) -> ledger.LedgerReport:
    seed_shop(engine, ctx)
    with engine.connect() as conn:
        batches = [(int(a), int(b)) for a, b in conn.execute(text("SELECT id, item_id FROM batch WHERE store_id = :s"),
                                                             {"s": ctx.store_id})]
    ledger_data.write(engine, ledger_data.generated(ctx.store_id, batches, ctx.today - timedelta(days=20), 30, 150,
                                                    seed=7))
    return ledger.ledger_report(engine, ctx.store_id, ctx.today - timedelta(days=10), ctx.today + timedelta(days=5))


def _evaluate(ws: Worksheet, formula: object) -> Decimal:
    """A total row's =SUM(...) worked out over the cells it names (a cell that holds no formula fails)."""
    assert isinstance(formula, str), formula
    m = SUM.match(formula)
    assert m and m.group(1) == m.group(3), formula
    total = Decimal(0)
    for (cell,) in ws[f"{m.group(1)}{m.group(2)}:{m.group(3)}{m.group(4)}"]:
        total += Decimal(str(cell.value or 0))
    return total


def test_the_xlsx_reopened_adds_up_to_the_ledger(engine: Engine, ctx: Ctx, tmp_path: Path) -> None:
    report = _report(engine, ctx)
    path = xlsx.write(report, tmp_path / "jxc.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["批次明细", "品种汇总", "按GSP分类汇总", "按医保类别汇总", "核查"]
    whole = report.total
    expected_close = (whole.closing.qty, Decimal(whole.closing.cost).scaleb(-2),
                      Decimal(whole.closing.retail).scaleb(-2))
    for title, rows in (("批次明细", report.batches), ("品种汇总", report.items)):
        ws = wb[title]
        head = [str(c.value) for c in ws[1]]  # the titles, all text (a blank one reads "None" and fails below)
        assert head[:3] == ["商品编码", "医保国家编码", "通用名"] and "期末数量" in head and "销售出库成本金额(元)" in head
        assert ws.freeze_panes == "A2"
        formulas, values = ws[ws.max_row - 1], ws[ws.max_row]
        assert formulas[0].value == xlsx.FORMULA_LABEL and values[0].value == xlsx.VALUE_LABEL
        assert ws.max_row == len(rows) + 3
        for n, name in enumerate(head):
            if "数量" in name or "金额" in name:
                f = formulas[n].value
                assert isinstance(f, str) and f.startswith("=SUM(")
                assert _evaluate(ws, f) == Decimal(str(values[n].value)), name
                fmt = ws.cell(row=2, column=n + 1).number_format
                assert fmt == (xlsx.MONEY_FORMAT if "金额" in name else xlsx.QTY_FORMAT)
        close = [head.index(h) for h in ("期末数量", "期末成本金额(元)", "期末零售金额(元)")]
        assert tuple(_evaluate(ws, formulas[i].value) for i in close) == expected_close
        sold = head.index("销售出库数量")
        assert _evaluate(ws, formulas[sold].value) == whole.col("out_sale").qty
    checks = [r[0].value for r in wb["核查"].iter_rows(min_row=2)]
    assert "医保销售数量=医保结算数量" in checks and "期初+入库−出库=期末" in checks


def test_the_csv_rereads_with_every_figure(engine: Engine, ctx: Ctx, tmp_path: Path) -> None:
    report = _report(engine, ctx)
    path = csv_export.write(report, tmp_path / "jxc.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    assert head[:3] == ["行类型", "商品编码", "医保国家编码"]
    batch_rows = [r for r in rows[1:] if r[0] == "批次"]
    assert len(batch_rows) == len(report.batches)
    close_qty, close_cost = head.index("期末数量"), head.index("期末成本金额(元)")
    by_batch = {r[head.index("批次号")]: r for r in batch_rows}
    for row in report.batches:
        got = by_batch[row.identity["batch_no"]]
        assert int(got[close_qty]) == row.closing.qty
        assert Decimal(got[close_cost]) * 100 == row.closing.cost
    (total,) = [r for r in rows if r[0] == "合计"]
    assert int(total[close_qty]) == sum(int(r[close_qty]) for r in batch_rows) == report.total.closing.qty
