"""What the checklist says about one item, and about the whole period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

SHOWN_ROWS = 10  # the first offending rows shown with an item; the count says how many there are


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        return {"pass": "合格", "fail": "不合格", "manual": "需人工确认"}[self.value]


@dataclass(frozen=True)
class Countdown:
    """A deadline the manager should see coming: what, when, days left (negative: overdue)."""

    what_zh: str
    due: date
    days_left: int


@dataclass(frozen=True)
class Finding:
    no: int
    title_zh: str
    rules: tuple[str, ...]
    verdict: Verdict
    summary_zh: str  # one line: why this verdict
    summary_en: str
    evidence: tuple[dict[str, Any], ...] = ()  # the first offending rows, or the rows that prove it
    count: int = 0  # how many offending rows in all
    missing: str = ""  # for 需人工确认: the data that is not there
    countdowns: tuple[Countdown, ...] = ()


def passed(no: int, title: str, rules: tuple[str, ...], zh: str, en: str,
           evidence: list[dict[str, Any]] | None = None, countdowns: tuple[Countdown, ...] = ()) -> Finding:
    return Finding(no, title, rules, Verdict.PASS, zh, en, tuple((evidence or [])[:SHOWN_ROWS]), 0, "", countdowns)


def failed(no: int, title: str, rules: tuple[str, ...], zh: str, en: str, offending: list[dict[str, Any]],
           countdowns: tuple[Countdown, ...] = ()) -> Finding:
    return Finding(no, title, rules, Verdict.FAIL, zh, en, tuple(offending[:SHOWN_ROWS]), len(offending), "",
                   countdowns)


def manual(no: int, title: str, rules: tuple[str, ...], missing_zh: str, missing_en: str,
           evidence: list[dict[str, Any]] | None = None, countdowns: tuple[Countdown, ...] = ()) -> Finding:
    return Finding(no, title, rules, Verdict.MANUAL, f"需人工确认：{missing_zh}", f"to be confirmed: {missing_en}",
                   tuple((evidence or [])[:SHOWN_ROWS]), 0, missing_en, countdowns)


@dataclass(frozen=True)
class Checklist:
    store_code: str
    first: date
    last: date
    today: date
    findings: tuple[Finding, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.verdict is Verdict.FAIL)

    def changes_since(self, earlier: dict[int, str]) -> dict[int, tuple[str, str]]:
        """Items whose verdict differs from an earlier run's (item no -> (then, now))."""
        return {f.no: (earlier[f.no], f.verdict.value) for f in self.findings
                if f.no in earlier and earlier[f.no] != f.verdict.value}
