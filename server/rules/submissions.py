"""Reports as submissions (ST-04): each report handed in has a period, a status, who submitted it and when, and the
file that was submitted. Pure: the statuses, their lawful moves, and when a report is overdue.

A submitted file is never replaced: a resubmission (after the agency rejected the report) is a new row that names
the one it follows. The deadline is the store's setting with no default: when it is unset, overdue is not computed
but refused with a message saying which setting to fill in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from catalog.violations import Violation

DRAFT = "draft"
SUBMITTED = "submitted"
ACCEPTED = "accepted"
REJECTED = "rejected"
STATUSES = (DRAFT, SUBMITTED, ACCEPTED, REJECTED)
# status -> the statuses it may move to (anything else is refused, by the service and by the database guard)
MOVES: dict[str, tuple[str, ...]] = {DRAFT: (SUBMITTED,), SUBMITTED: (ACCEPTED, REJECTED), ACCEPTED: (),
                                     REJECTED: ()}

# The reports handed in, with their Chinese names (the 进销存, the card statement, the 外配 statement, the 申报)
KINDS: dict[str, str] = {"ledger": "进销存报表", "card_statement": "刷卡购药对账单", "rx_statement": "外配处方统计表",
                         "declaration": "医保费用申报表"}
MONTHLY = ("ledger", "card_statement", "rx_statement")  # ST-04's monthly reports: `report_deadline_day` is theirs


def move_refusals(status: str, to: str, reason: str) -> list[Violation]:
    if to not in MOVES.get(status, ()):
        return [Violation("ST-04", f"报表状态不能从 {status} 改为 {to}", f"a report cannot move from {status} to {to}",
                          {"status": status, "to": to})]
    if to == REJECTED and not reason.strip():
        return [Violation("ST-04", "退回须填写经办机构的退回原因", "a rejection needs the agency's reason")]
    return []


def draft_refusals(kind: str, content: bytes, previous_status: str | None, later_exists: bool) -> list[Violation]:
    """A new draft: a known report with a file; following another only when that one was rejected and nothing has
    followed it yet (a resubmission never overwrites, and never forks)."""
    out: list[Violation] = []
    if kind not in KINDS:
        out.append(Violation("ST-04", f"未知的报表类型 {kind}", f"unknown report kind {kind!r}", {"kind": kind}))
    if not content:
        out.append(Violation("ST-04", "报表文件为空", "the report's file is empty"))
    if previous_status is not None and previous_status != REJECTED:
        out.append(Violation("ST-04", "只有被退回的报表可以重新报送；已报送的文件不能替换",
                             "only a rejected report is resubmitted; a submitted file is never replaced",
                             {"previous_status": previous_status}))
    if later_exists:
        out.append(Violation("ST-04", "该报表已有重新报送的版本", "this report already has a resubmission"))
    return out


@dataclass(frozen=True, slots=True)
class Overdue:
    kind: str
    period: str
    due_on: date
    status: str  # the latest version's status, or "missing"


def overdue_refusal(kind: str, deadline_day: int | None, setting: str) -> Violation | None:
    """None when the deadline is set; otherwise the refusal naming the setting (no default, ST-04)."""
    if deadline_day is not None:
        return None
    return Violation("ST-04", f"未设置{KINDS.get(kind, kind)}的报送截止日（{setting}），无法判断是否逾期",
                     f"no deadline is set for {kind} ({setting}): overdue cannot be computed",
                     {"kind": kind, "setting": setting})


def is_overdue(due_on: date, today: date, statuses: Iterable[str]) -> bool:
    """Overdue: the deadline has passed and no version is submitted or accepted (a rejected report is owed again)."""
    return today > due_on and not any(s in (SUBMITTED, ACCEPTED) for s in statuses)
