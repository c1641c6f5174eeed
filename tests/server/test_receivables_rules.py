"""ST-05, ST-07 as pure rules: working days on the store's calendar (the Spring Festival of 2026 and its 调休
Saturdays), statement periods, and where a declaration stands — a write-off never owed, a duplicate due back."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.rules import receivables as r
from server.rules import submissions as sub

# The State Council's notice for 2026: 春节 15–23 February off; Saturday 14 and Saturday 28 February worked (调休).
SPRING_2026 = r.Calendar.of([(date(2026, 2, 15) + timedelta(days=i), r.HOLIDAY) for i in range(9)]
                            + [(date(2026, 2, 14), r.WORKDAY), (date(2026, 2, 28), r.WORKDAY)])


def test_a_make_up_saturday_is_a_working_day_and_the_festival_is_not() -> None:
    assert r.working_days_after(date(2026, 2, 13), 1, SPRING_2026) == date(2026, 2, 14)  # 调休 Saturday
    assert r.working_days_after(date(2026, 2, 14), 1, SPRING_2026) == date(2026, 2, 24)  # the festival skipped
    assert r.working_days_after(date(2026, 2, 13), 1, r.Calendar()) == date(2026, 2, 16)  # no calendar: Monday


def test_thirty_working_days_across_the_spring_festival() -> None:
    """Declared on 5 February 2026: the weekdays 6,9–13 (6) + Sat 14 (1) + 24–27 (4) + Sat 28 (1) = 12 by the end of
    February; March gives the other 18 on 2–25 March. Without the calendar the deadline would fall on 19 March."""
    assert r.working_days_after(date(2026, 2, 5), 30, SPRING_2026) == date(2026, 3, 25)
    assert r.working_days_after(date(2026, 2, 5), 30, r.Calendar()) == date(2026, 3, 19)
    assert r.working_days_after(date(2026, 2, 5), 0, SPRING_2026) == date(2026, 2, 5)


@settings(max_examples=12)
@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)), st.integers(min_value=1, max_value=40))
def test_the_deadline_is_a_working_day_with_exactly_n_working_days_to_it(start: date, n: int) -> None:
    due = r.working_days_after(start, n, SPRING_2026)
    assert SPRING_2026.is_working(due)
    days = [start + timedelta(days=i) for i in range(1, (due - start).days + 1)]
    assert sum(SPRING_2026.is_working(d) for d in days) == n


def test_statement_periods_are_calendar_aligned() -> None:
    assert r.period_of(date(2026, 2, 14), "monthly") == r.Period(date(2026, 2, 1), date(2026, 2, 28))
    assert r.period_of(date(2026, 12, 31), "bimonthly") == r.Period(date(2026, 11, 1), date(2026, 12, 31))
    assert r.period_of(date(2026, 5, 3), "quarterly") == r.Period(date(2026, 4, 1), date(2026, 6, 30))
    assert r.period_starting(date(2026, 5, 1), "quarterly") is None
    assert r.report_due(r.Period(date(2026, 12, 1), date(2026, 12, 31)), 10) == date(2027, 1, 10)
    assert r.report_due(r.Period(date(2026, 12, 1), date(2026, 12, 31)), None) is None


def _pay(i: int, amount: int, ref: str, part: str = r.INTERIM, on: date = date(2026, 3, 1)) -> r.PaymentFact:
    return r.PaymentFact(i, on, amount, ref, part)


def test_the_interim_share_and_the_reserve() -> None:
    s = r.standing(100_001, Decimal("0.90"), date(2026, 2, 5), 30, SPRING_2026, date(2026, 3, 1), [], 0)
    assert (s.interim_due_fen, s.reserve_fen) == (90_000, 10_001)  # the odd fen stays in the reserve
    assert s.outstanding_fen == 90_000 and not s.overdue and s.due_on == date(2026, 3, 25)
    late = r.standing(100_001, Decimal("0.90"), date(2026, 2, 5), 30, SPRING_2026, date(2026, 3, 26), [], 0)
    assert late.overdue


@pytest.mark.refuses("ST-07")
def test_a_write_off_is_never_owed_and_a_duplicate_is_due_back() -> None:
    pays = [_pay(1, 50_000, "BF-1"), _pay(2, 50_000, " bf-1 "), _pay(3, 40_000, "BF-2")]
    s = r.standing(100_000, Decimal("0.90"), date(2026, 2, 5), 30, SPRING_2026, date(2026, 4, 1), pays, 20_000)
    assert s.approved_fen == 80_000 and s.interim_due_fen == 72_000 and s.reserve_fen == 8_000
    assert s.duplicates == [2] and s.duplicate_fen == 50_000
    assert s.paid_interim_fen == 90_000  # BF-1 once and BF-2
    assert s.due_back_fen == 50_000 + 18_000  # the duplicate and what was paid beyond the interim share
    assert s.outstanding_fen == 0 and not s.overdue  # the 20 000 refused is not owed, so nothing is late
    # the walk-around: a negative write-off would carry the refused amount as owed again
    assert r.write_off_refusals(r.REFUSED, -20_000, "更正", 100_000, 20_000, date(2026, 3, 2), date(2026, 2, 5),
                                date(2026, 4, 1))[0].rule == "ST-07"
    # nor more than what is left of the declaration
    assert r.write_off_refusals(r.PENALTY, 80_001, "罚款", 100_000, 20_000, date(2026, 3, 2), date(2026, 2, 5),
                                date(2026, 4, 1))


@settings(max_examples=25)
@given(st.integers(0, 10_000_000), st.integers(0, 10_000_000), st.lists(st.integers(1, 5_000_000), max_size=4))
def test_outstanding_never_exceeds_what_is_approved(declared: int, off: int, paid: list[int]) -> None:
    off = min(off, declared)
    pays = [_pay(i, a, f"N{i}") for i, a in enumerate(paid)]
    s = r.standing(declared, Decimal("0.90"), date(2026, 2, 5), 30, SPRING_2026, date(2026, 6, 1), pays, off)
    assert s.outstanding_fen + min(s.paid_interim_fen, s.interim_due_fen) == s.interim_due_fen
    assert s.interim_due_fen + s.reserve_fen == declared - off
    assert s.due_back_fen == max(sum(paid) - s.interim_due_fen, 0)


@pytest.mark.refuses("ST-05")
def test_a_payment_before_the_declaration_or_in_the_future_is_refused() -> None:
    back = r.payment_refusals(1000, date(2026, 2, 4), "BF-1", r.INTERIM, date(2026, 2, 5), date(2026, 3, 1), False)
    ahead = r.payment_refusals(1000, date(2026, 3, 2), "BF-1", r.INTERIM, date(2026, 2, 5), date(2026, 3, 1), False)
    early_reserve = r.payment_refusals(1000, date(2026, 3, 1), "BF-9", r.RESERVE, date(2026, 2, 5),
                                       date(2026, 3, 1), False)
    assert [v.rule for v in back + ahead + early_reserve] == ["ST-05"] * 3
    assert not r.payment_refusals(1000, date(2026, 2, 5), "BF-1", r.INTERIM, date(2026, 2, 5), date(2026, 3, 1), False)


@pytest.mark.refuses("ST-04")
def test_a_submission_moves_only_forward_and_an_unset_deadline_is_said() -> None:
    assert not sub.move_refusals(sub.DRAFT, sub.SUBMITTED, "")
    assert sub.move_refusals(sub.SUBMITTED, sub.DRAFT, "")  # back to draft to swap the file: refused
    assert sub.move_refusals(sub.SUBMITTED, sub.REJECTED, " ")  # a rejection needs the agency's reason
    assert sub.move_refusals(sub.ACCEPTED, sub.REJECTED, "x")
    assert sub.draft_refusals("ledger", b"x", sub.SUBMITTED, False)  # resubmitting what was not rejected
    refusal = sub.overdue_refusal("declaration", None, "[reports] deadline_days.declaration")
    assert refusal is not None and "deadline_days.declaration" in refusal.message_zh
    assert sub.is_overdue(date(2026, 1, 10), date(2026, 1, 11), [sub.REJECTED])
    assert not sub.is_overdue(date(2026, 1, 10), date(2026, 1, 11), [sub.REJECTED, sub.SUBMITTED])
    assert not sub.is_overdue(date(2026, 1, 10), date(2026, 1, 10), [])
