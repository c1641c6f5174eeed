"""The period close (月结): what a closed period locks and when a month may be closed (ST-01, ST-02).

Pure: dates in, violations out. A closed period's records are final as reported: nothing is dated inside it
afterwards (a correction goes into the open period, naming what it corrects), and it is never reopened. A month
closes once it has ended, after the one before it (the snapshot of each close builds on the last), and only
when nothing in it is left half done (server.services.period.blockers names those).
"""

from __future__ import annotations

from datetime import date

from catalog.violations import Violation


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-11' -> (2026-11-01, 2026-11-30). ValueError on anything else."""
    year, _, mon = month.partition("-")
    if len(year) != 4 or len(mon) != 2 or not (year.isdigit() and mon.isdigit()):
        raise ValueError(f"a month is YYYY-MM, not {month!r}")
    first = date(int(year), int(mon), 1)
    nxt = date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def dated_in_closed(day: date, closed_to: date | None, what: str = "stock movement") -> list[Violation]:
    """ST-02: a record dated on or before the last closed day is refused."""
    if closed_to is None or day > closed_to:
        return []
    return [Violation("ST-02", f"{day} 在已月结期间内（结至 {closed_to}），不得记入；更正请记入当前期间并注明所更正的单据",
                      f"{day} lies inside a closed period (closed to {closed_to}): a {what} cannot be dated there; "
                      "a correction goes into the open period, referencing what it corrects",
                      {"date": day.isoformat(), "closed_to": closed_to.isoformat()})]


def closable(first: date, last: date, today: date, closed_to: date | None) -> list[Violation]:
    """ST-01: a month may be closed once it has ended, once, and after the month before it (when any is closed)."""
    if closed_to is not None and last <= closed_to:
        return [Violation("ST-02", f"{first:%Y-%m} 已月结，不能重复结账", f"{first:%Y-%m} is closed already",
                          {"month": f"{first:%Y-%m}", "closed_to": closed_to.isoformat()})]
    if last >= today:
        return [Violation("ST-01", f"{first:%Y-%m} 尚未结束（今天 {today}），不能月结",
                          f"{first:%Y-%m} has not ended (today is {today}): it cannot be closed yet",
                          {"month": f"{first:%Y-%m}", "today": today.isoformat()})]
    if closed_to is not None and first.toordinal() != closed_to.toordinal() + 1:
        return [Violation("ST-01", f"须按月顺序结账：上次结至 {closed_to}，下一个应结 {_next(closed_to):%Y-%m}",
                          f"months close in order: closed to {closed_to}, the next to close is "
                          f"{_next(closed_to):%Y-%m}", {"month": f"{first:%Y-%m}", "closed_to": closed_to.isoformat()})]
    return []


def _next(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def reopen_refused(month: str) -> Violation:
    """ST-02: a closed period is never reopened."""
    return Violation("ST-02", f"已月结期间（{month}）不能重开：更正请记入当前期间，并注明所更正的单据",
                     f"a closed period ({month}) is never reopened: a correction goes into the open period, "
                     "referencing what it corrects", {"month": month})
