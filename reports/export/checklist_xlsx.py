"""The compliance checklist as an XLSX workbook (reports.export.tables writes it: Chinese headers, the header row
frozen): the run's summary, every item with its verdict, all its evidence rows (the PDF shows the first few), the
deadlines, the attestations on record — and a sheet with the declaration and blanks to sign. Identity numbers masked
(reports.export.checklist_doc)."""

from __future__ import annotations

from pathlib import Path

from reports.export.checklist_doc import (
    ATTESTED_HEADERS,
    COUNTDOWN_HEADERS,
    DECLARATION,
    EVIDENCE_HEADERS,
    FINDING_HEADERS,
    SIGNERS,
    TITLE,
    ChecklistFile,
    attested_rows,
    countdown_rows,
    evidence_rows,
    finding_row,
    summary,
)
from reports.export.tables import Col, Table, write_xlsx

WIDTHS = {"检查项": 30, "说明": 50, "证据（前几行）": 60, "证据": 90, "缺少的数据": 30, "事项": 40, "确认事项": 18}


def _cols(headers: tuple[str, ...]) -> list[Col]:
    return [Col(h, width=WIDTHS.get(h, 14)) for h in headers]


def tables(doc: ChecklistFile) -> list[Table]:
    c = doc.checklist
    return [Table("自查概况", [Col("项目", width=20), Col("内容", width=80)], [list(p) for p in summary(doc)]),
            Table("逐项结论", _cols(FINDING_HEADERS), [finding_row(doc, f) for f in c.findings]),
            Table("证据明细", _cols(EVIDENCE_HEADERS), evidence_rows(c)),
            Table("期限提醒", _cols(COUNTDOWN_HEADERS), countdown_rows(c)),
            Table("人工确认事项", _cols(ATTESTED_HEADERS), attested_rows(doc)),
            Table("签字确认", [Col("项目", width=24), Col("签字", width=30), Col("日期", width=16)],
                  [[DECLARATION, "", ""], *([role, "", ""] for role in SIGNERS)])]


def write(doc: ChecklistFile, path: Path) -> Path:
    return write_xlsx(tables(doc), path, f"{TITLE} {doc.period}")
