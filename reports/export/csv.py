"""The 进销存 as CSV: UTF-8 with a byte-order mark (Excel opens it as UTF-8), one file with every table, each row
led by its kind (批次 / 品种 / GSP分类 / 医保类别 / 合计); money in 元 with two decimals."""

from __future__ import annotations

import csv
from pathlib import Path

from reports.export import headers, sheets, values
from reports.ledger import LedgerReport

KINDS = {"批次明细": "批次", "品种汇总": "品种", "按GSP分类汇总": "GSP分类", "按医保类别汇总": "医保类别"}


def write(report: LedgerReport, path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["行类型", *(h.zh for h in headers(report))])
        for title, rows in sheets(report):
            for r in rows:
                w.writerow([KINDS[title], *(str(v) for v in values(report, r))])
        w.writerow(["合计", *(str(v) for v in values(report, report.total))])
    return path
