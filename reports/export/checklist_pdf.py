"""The compliance checklist as a PDF for the store's file (A4 landscape): the run (period, who, when, the counts, what
changed since the last run), every item with its verdict, its evidence and the rule IDs, the deadlines, the
attestations on record, then the declaration and the signature lines of who checked it; every page headed and
numbered "第 x 页 共 y 页". Identity numbers masked (reports.export.checklist_doc)."""

from __future__ import annotations

from pathlib import Path

from reports.export.checklist_doc import (
    ATTESTED_HEADERS,
    COUNTDOWN_HEADERS,
    DECLARATION,
    FINDING_HEADERS,
    SIGNERS,
    TITLE,
    ChecklistFile,
    attested_rows,
    countdown_rows,
    finding_row,
    summary,
)
from reports.export.pdf_doc import Col, Document, Footer, Table

WRAP = {"检查项": 40.0, "说明": 60.0, "证据（前几行）": 80.0, "缺少的数据": 30.0, "规则": 22.0}


def write(doc: ChecklistFile, path: Path) -> Path:
    c = doc.checklist
    out = Document(TITLE, Footer(doc.store, doc.period, doc.run_at, doc.tz, pages_in_full=True), landscape=True,
                   font_size=7)
    out.heading(f"{TITLE}（{doc.period}）")
    out.fields(summary(doc), per_row=2)
    cols = [Col(h, keep=h in ("序号", "检查项"), wrap=WRAP.get(h, 0.0), align="R" if h in ("序号", "问题数") else "L")
            for h in FINDING_HEADERS]
    out.table(Table("逐项结论", cols, [finding_row(doc, f) for f in c.findings], (),
                    "结论：合格 / 不合格 / 需人工确认；证据为前几行，完整清单见 XLSX 的“证据明细”"))
    deadlines = countdown_rows(c)
    if deadlines:
        out.table(Table("期限提醒", [Col(h, wrap=90.0 if h == "事项" else 0.0) for h in COUNTDOWN_HEADERS], deadlines))
    out.table(Table("人工确认事项（各事项最近一次确认）", [Col(h, wrap=70.0 if h == "说明" else 0.0) for h in ATTESTED_HEADERS],
                    attested_rows(doc)))
    out.paragraph(DECLARATION)
    out.signatures([(role, "", "日期：") for role in SIGNERS])
    return out.save(path)
