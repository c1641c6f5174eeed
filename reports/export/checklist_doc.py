"""The compliance checklist (issue #22) as the store files it: one run's findings, what changed since the run before,
the attestations on record, the deadlines — as text rows, once, for both the PDF (checklist_pdf) and the XLSX
(checklist_xlsx).

A store's own record, never a submission to the agency: every identity number in it is masked. The findings'
evidence is free data (a print job's text, an audit entry, a note someone typed), so every cell goes through
catalog.codes.mask_ids_in on its way into a file, not only the fields known to hold one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from catalog.codes import mask_ids_in
from reports.checklist.verdict import Checklist, Finding, Verdict

TITLE = "定点零售药店医保合规自查表"
DECLARATION = ("本人已逐项核对以上自查结果，所列证据与系统记录一致；需人工确认的事项已按记录核实。"
               "如有不实，愿承担相应责任。")
SIGNERS = ("自查人", "质量负责人", "门店负责人（盖章）")


@dataclass(frozen=True, slots=True)
class Attested:
    """The latest attestation of a topic (CHECK 13, 26), or the topic never attested (confirmed_at None)."""

    topic: str  # its label: 定点标牌悬挂 …
    confirmed_by: str = ""
    confirmed_at: datetime | None = None
    valid_until: date | None = None
    note: str = ""
    photo_sha256: str = ""

    def standing(self, today: date) -> str:
        if self.confirmed_at is None or self.valid_until is None:
            return "未确认"
        return "有效" if self.valid_until >= today else "已过期"


@dataclass(frozen=True)
class ChecklistFile:
    """What a checklist's file shows: the run and its context (all plain values, read by the caller)."""

    checklist: Checklist
    store: str
    run_at: datetime  # aware
    run_by: str
    tz: tzinfo
    previous_at: str | None = None
    changes: dict[int, tuple[str, str]] = field(default_factory=dict)  # item no -> (verdict then, verdict now)
    attested: Sequence[Attested] = ()

    @property
    def period(self) -> str:
        return f"{self.checklist.first.isoformat()} 至 {self.checklist.last.isoformat()}"

    def when(self, t: datetime | None) -> str:
        return f"{t.astimezone(self.tz):%Y-%m-%d %H:%M}" if t else ""


def clean(text: object) -> str:
    """A cell's text with every whole identity number masked (SEC-06)."""
    return mask_ids_in("" if text is None else str(text))


def evidence_text(row: dict[str, Any]) -> str:
    """One evidence row as a line: its Chinese sentence where it has one, then its other facts as key=value."""
    said = str(row.get("zh", ""))
    rest = "；".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)}"
                    for k, v in row.items() if k not in ("zh", "en"))
    return clean("；".join(x for x in (said, rest) if x))


def counts(c: Checklist) -> dict[Verdict, int]:
    out = dict.fromkeys(Verdict, 0)
    for f in c.findings:
        out[f.verdict] += 1
    return out


def summary(doc: ChecklistFile) -> list[tuple[str, str]]:
    c = doc.checklist
    n = counts(c)
    changed = "；".join(f"第 {no} 项 {_label(a)}→{_label(b)}" for no, (a, b) in sorted(doc.changes.items()))
    return [("门店", clean(doc.store)), ("定点医药机构编码", c.store_code), ("自查期间", doc.period),
            ("自查日期", c.today.isoformat()), ("运行时间", doc.when(doc.run_at)), ("运行人", clean(doc.run_by)),
            ("结论", f"合格 {n[Verdict.PASS]} 项，不合格 {n[Verdict.FAIL]} 项，需人工确认 {n[Verdict.MANUAL]} 项"),
            ("与上次比较", (f"上次 {doc.when(_instant(doc.previous_at))}：" + (changed or "无变化"))
             if doc.previous_at else "本期首次自查")]


def _instant(iso: str) -> datetime | None:
    """A run's time as the history keeps it (ISO, UTC)."""
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _label(verdict: str) -> str:
    return Verdict(verdict).label if verdict in Verdict.__members__.values() else verdict


FINDING_HEADERS = ("序号", "检查项", "规则", "结论", "说明", "问题数", "证据（前几行）", "缺少的数据", "与上次比较")


def finding_row(doc: ChecklistFile, f: Finding, shown: int = 3) -> list[str]:
    lines = [evidence_text(e) for e in f.evidence[:shown]]
    if f.count > len(lines):
        lines.append(f"……共 {f.count} 处")
    change = doc.changes.get(f.no)
    return [str(f.no), clean(f.title_zh), "、".join(f.rules), f.verdict.label, clean(f.summary_zh),
            str(f.count) if f.count else "", "\n".join(lines), clean(f.missing),
            f"{_label(change[0])}→{_label(change[1])}" if change else ""]


EVIDENCE_HEADERS = ("序号", "检查项", "结论", "第几行", "证据")


def evidence_rows(c: Checklist) -> list[list[str]]:
    return [[str(f.no), clean(f.title_zh), f.verdict.label, str(n), evidence_text(e)]
            for f in c.findings for n, e in enumerate(f.evidence, start=1)]


COUNTDOWN_HEADERS = ("序号", "事项", "期限", "剩余天数")


def countdown_rows(c: Checklist) -> list[list[str]]:
    found = sorted(((f.no, x) for f in c.findings for x in f.countdowns), key=lambda p: p[1].days_left)
    return [[str(no), clean(x.what_zh), x.due.isoformat(),
             f"剩 {x.days_left} 天" if x.days_left >= 0 else f"已过 {-x.days_left} 天"] for no, x in found]


ATTESTED_HEADERS = ("确认事项", "状态", "确认人", "确认时间", "有效至", "说明", "照片/扫描件 SHA-256")


def attested_rows(doc: ChecklistFile) -> list[list[str]]:
    today = doc.checklist.today
    return [[a.topic, a.standing(today), clean(a.confirmed_by), doc.when(a.confirmed_at),
             a.valid_until.isoformat() if a.valid_until else "", clean(a.note), a.photo_sha256[:16]]
            for a in doc.attested]
