"""CHECK 17's analyses as pure functions over plain rows (reports.checklist.fund_use): what each finds, what it
lets pass (the lawful cases next to the suspicious ones), and the sales each finding names."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.checklist.facts import FundUsePolicy
from reports.checklist.fund_use import (
    boundary,
    odd_hours,
    over_supply,
    repeat_buyers,
    settled_beyond_received,
    settled_lines,
    trace_codes_twice,
    two_stores_at_once,
)

DAY = date(2026, 3, 2)
SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = FundUsePolicy()


def purchase(n: int, psn: str, day: date = DAY, at: datetime | None = None) -> Any:
    return SimpleNamespace(id=n, sale_id=f"s{n}", business_date=day, psn_no=psn, opened_at=at, completed_at=at)


def line(n: int, psn: str = "P1", item: int = 1, qty: int = 1, split: bool = False, ratio: int = 24,
         rx_days: int | None = None, cls: str = "otc_a", now: str | None = None, amount: int = 100) -> Any:
    return SimpleNamespace(id=n, sale_id=f"s{n}", psn_no=psn, item_id=item, qty=qty, split=split, split_ratio=ratio,
                           rx_days=rx_days, gsp_class=cls, class_now=now or cls, name=f"品{item}", code=f"YP{item}",
                           amount_fen=amount, settled=[{"feedetl_sn": str(n)}])


def test_a_repeat_buyer_is_named_with_the_sales_of_the_busiest_window_and_a_spread_out_one_is_not() -> None:
    often = [purchase(i, "P1", DAY + timedelta(days=i)) for i in range(4)]  # four in four days
    spread = [purchase(10 + i, "P2", DAY + timedelta(days=7 * i)) for i in range(6)]  # weekly: lawful
    (lead,) = repeat_buyers(often + spread, POLICY)
    assert lead.detail[0] == ("psn_no", "P1") and lead.sale_ids == ("s0", "s1", "s2", "s3")
    assert repeat_buyers(often[:3], POLICY) == []  # three is the limit, not over it
    # a weekly checklist from the third day on: the window reaching back before the period still counts …
    assert [x.sale_ids for x in repeat_buyers(often, POLICY, since=DAY + timedelta(days=2))] == [lead.sale_ids]
    # … but not a window wholly before it (the earlier period's checklist listed it)
    assert repeat_buyers(often, POLICY, since=DAY + timedelta(days=10)) == []


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=0, max_size=12))
def test_a_repeat_buyer_is_found_exactly_when_some_window_holds_more_than_the_limit(offsets: list[int]) -> None:
    rows = [purchase(i, "P1", DAY + timedelta(days=o)) for i, o in enumerate(offsets)]
    busiest = max((sum(1 for o in offsets if 0 <= o - start < POLICY.repeat_window_days) for start in offsets),
                  default=0)
    found = repeat_buyers(rows, POLICY)
    assert bool(found) == (busiest > POLICY.repeat_max_sales)
    if found:
        assert len(found[0].sale_ids) == busiest


def test_over_supply_counts_split_units_as_boxes_and_prescribed_days_against_the_period() -> None:
    lawful = [line(1, qty=10), line(2, qty=24, split=True)]  # 10 boxes + 24 tablets = 11 boxes: over 10
    assert [x.analysis for x in over_supply(lawful[:1], DAY, DAY, POLICY)] == []
    (lead,) = over_supply(lawful, DAY, DAY, POLICY)
    assert lead.sale_ids == ("s1", "s2") and ("units", "11") in lead.detail
    month = (DAY, DAY + timedelta(days=29))
    rx = [line(3, item=2, rx_days=30), line(4, item=2, rx_days=30)]  # 60 days in 30: exactly the allowance
    assert over_supply(rx, *month, POLICY) == []
    (too_much,) = over_supply([*rx, line(5, item=2, rx_days=1)], *month, POLICY)
    assert ("days", 61) in too_much.detail
    assert over_supply([line(6, psn="P1", qty=6), line(7, psn="P2", qty=6)], DAY, DAY, POLICY) == []  # two people


def test_odd_hours_are_the_store_s_own_hours_in_its_zone_and_a_24_hour_store_s_late_night() -> None:
    def at(h: int, m: int = 0) -> datetime:
        return datetime.combine(DAY, time(h, m), tzinfo=SHANGHAI).astimezone(UTC)

    rows = [purchase(1, "P1", at=at(7, 59)), purchase(2, "P1", at=at(8)), purchase(3, "P1", at=at(21, 59)),
            purchase(4, "P1", at=at(22)), purchase(5, "P1", at=at(2))]
    assert [x.sale_ids for x in odd_hours(rows, SHANGHAI, POLICY)] == [("s1",), ("s4",), ("s5",)]
    assert odd_hours(rows, SHANGHAI, POLICY)[0].zh.startswith("2026-03-02 07:59")  # store time, not UTC
    all_day = FundUsePolicy(store_24h=True)
    assert [x.sale_ids for x in odd_hours(rows, SHANGHAI, all_day)] == [("s5",)]
    overnight = FundUsePolicy(open_from=time(20), open_until=time(2))  # hours across midnight
    assert [x.sale_ids for x in odd_hours(rows, SHANGHAI, overnight)] == [("s1",), ("s2",), ("s5",)]  # 02:00 closed


def test_boundary_lines_are_non_drugs_and_items_reclassified_since_the_sale() -> None:
    rows = [line(1, cls="health_food"), line(2, cls="daily_chemical"), line(3, cls="otc_a", now="health_food"),
            line(4, cls="rx"), line(5, cls="otc_b", now="otc_b")]
    found = boundary(rows)
    assert [x.sale_ids for x in found] == [("s1",), ("s2",), ("s3",)]
    assert "保健食品" in found[0].zh and "reclassified" in found[2].en


def test_only_the_lines_the_settlement_names_were_settled() -> None:
    cash = line(2)
    cash.settled = [{"feedetl_sn": "1"}]  # the mixed basket's other line, paid another way
    assert settled_lines([line(1), cash]) == [line(1)]


def test_a_trace_code_twice_is_a_broken_rule_and_an_opened_box_shared_by_split_sales_is_not() -> None:
    def code(n: int, sale: str, split: bool, day: date = DAY) -> Any:
        return SimpleNamespace(id=n, code="C1", sale_id=sale, split=split, business_date=day)

    assert trace_codes_twice([code(1, "a", True), code(2, "b", True)], DAY, DAY) == []  # 拆零 of one box
    (whole_then_split,) = trace_codes_twice([code(1, "a", False), code(2, "b", True)], DAY, DAY)
    assert whole_then_split.broken and whole_then_split.sale_ids == ("a", "b")
    earlier = DAY - timedelta(days=40)
    assert trace_codes_twice([code(1, "a", False, earlier), code(2, "b", False, earlier)], DAY, DAY) == []  # before


def test_settled_beyond_received_compares_split_units_per_item() -> None:
    rows = [line(1, item=1, qty=2), line(2, item=1, qty=12, split=True), line(3, item=2, qty=1)]
    received = [SimpleNamespace(item_id=1, qty=60), SimpleNamespace(item_id=2, qty=24)]
    assert settled_beyond_received(rows, received) == []  # item 1: 2 boxes of 24 + 12 = 60 of 60; item 2: 24 of 24
    (lead,) = settled_beyond_received([*rows, line(4, item=1, qty=1, split=True)], received)
    assert lead.sale_ids == ("s1", "s2", "s4") and ("settled", 61) in lead.detail and ("received", 60) in lead.detail
    (never,) = settled_beyond_received([line(5, item=3)], received)  # nothing of it ever came in
    assert ("received", 0) in never.detail


def test_a_pharmacist_on_duty_at_two_stores_at_once_is_one_person_by_identity_number() -> None:
    t = datetime(2026, 3, 2, 1, tzinfo=UTC)

    def duty(n: int, store: int, on: int, off: int | None, who: str = "440301199001010012") -> Any:
        return SimpleNamespace(id=n, store_id=store, user_id=n, on_at=t + timedelta(hours=on),
                               off_at=None if off is None else t + timedelta(hours=off), id_number=who,
                               username=f"u{n}")

    here_then_there = [duty(1, 1, 0, 4), duty(2, 2, 4, 8)]  # one after the other: lawful
    assert two_stores_at_once(here_then_there, 1) == []
    (lead,) = two_stores_at_once([duty(1, 1, 0, 4), duty(2, 2, 3, None)], 1)  # still on duty there
    assert ("accounts", ["u1", "u2"]) in lead.detail and "4403**********0012" in lead.zh
    assert "440301199001010012" not in lead.zh + lead.en
    assert two_stores_at_once([duty(1, 2, 0, 4), duty(2, 3, 1, 5)], 1) == []  # two other stores: theirs to judge
    assert two_stores_at_once([duty(1, 1, 0, 4), duty(2, 2, 1, 5, "110105194912310029")], 1) == []  # two people
