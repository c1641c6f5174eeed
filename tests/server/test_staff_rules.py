"""STAFF-01 and RX-10 as pure functions: a qualification that lapses, a duty that stops counting, goods that wait
for a pharmacist, and the record of the time the store sold without one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.classes import GspClass
from server.rules.staff import (
    NEEDS_PHARMACIST_PRESENT,
    DutyFacts,
    StaffRecord,
    pharmacist_refusals,
    presence_refusal,
    present_pharmacists,
    uncovered,
)

DAY = date(2027, 3, 10)
CONTRACT = (date(2026, 1, 1), date(2028, 12, 31))


def record(qualification: str = "licensed_pharmacist", expiry: date | None = date(2029, 1, 1),
           contract: tuple[date, date] = CONTRACT) -> StaffRecord:
    return StaffRecord(qualification, "ZY1", "P1", contract[0], contract[1], expiry)


def test_a_licensed_pharmacists_registration_counts_until_its_expiry_and_not_a_day_after() -> None:
    assert pharmacist_refusals(record(expiry=DAY), "P1", DAY) == []
    lapsed = pharmacist_refusals(record(expiry=DAY - timedelta(days=1)), "P1", DAY)
    assert [v.rule for v in lapsed] == ["STAFF-01"] and "过期" in lapsed[0].message_zh


def test_a_registration_without_an_expiry_on_record_does_not_count() -> None:
    refusals = pharmacist_refusals(record(expiry=None), "P1", DAY)
    assert [v.rule for v in refusals] == ["STAFF-01"] and "有效期" in refusals[0].message_zh


def test_a_professional_title_does_not_lapse_but_a_recorded_expiry_is_still_read() -> None:
    assert pharmacist_refusals(record("pharmacist", expiry=None), "P1", DAY) == []
    assert pharmacist_refusals(record("pharmacist", expiry=DAY - timedelta(days=1)), "P1", DAY) != []


def duty(user_id: int, frozen: bool = False, rec: StaffRecord | None = None) -> DutyFacts:
    return DutyFacts(user_id, f"药师{user_id}", frozen, rec if rec is not None else record())


def test_a_frozen_or_lapsed_pharmacists_open_duty_no_longer_counts() -> None:
    duties = [duty(1), duty(2, frozen=True), duty(3, rec=record(contract=(date(2025, 1, 1), DAY - timedelta(days=1)))),
              duty(4, rec=record(expiry=DAY - timedelta(days=1))), DutyFacts(5, "无档案", False, None)]
    assert [d.user_id for d in present_pharmacists(duties, "P1", DAY)] == [1]
    assert present_pharmacists([duty(1)], "P2", DAY) == []  # registered at another store


def test_prescription_and_class_a_otc_wait_for_a_pharmacist_and_nothing_else_does() -> None:
    assert NEEDS_PHARMACIST_PRESENT == {GspClass.RX, GspClass.OTC_A}
    for cls in GspClass:
        refusal = presence_refusal(cls.value, "某药", 0)
        if cls in NEEDS_PHARMACIST_PRESENT:
            assert refusal is not None and refusal.rule == "RX-10" and cls.label in refusal.message_zh
        else:
            assert refusal is None
        assert presence_refusal(cls.value, "某药", 1) is None


T0 = datetime(2027, 3, 10, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=240)
intervals = st.lists(st.tuples(minutes, minutes), max_size=6)


def _at(m: int) -> datetime:
    return T0 + timedelta(minutes=m)


@settings(max_examples=300, deadline=None)
@given(selling=intervals, covered=intervals)
def test_the_uncovered_time_is_exactly_the_selling_minutes_no_duty_covers(
        selling: list[tuple[int, int]], covered: list[tuple[int, int]]) -> None:
    gaps = uncovered([(_at(a), _at(b)) for a, b in selling], [(_at(a), _at(b)) for a, b in covered])
    # Recomputed minute by minute, independently of the interval arithmetic.
    sold = {m for a, b in selling for m in range(a, b)}
    cover = {m for a, b in covered for m in range(a, b)}
    assert {m for a, b in gaps for m in range(int((a - T0).total_seconds()) // 60, int((b - T0).total_seconds()) // 60)} \
        == sold - cover
    assert all(a < b for a, b in gaps)
    assert all(gaps[i][1] < gaps[i + 1][0] for i in range(len(gaps) - 1))  # merged, in order, not touching
