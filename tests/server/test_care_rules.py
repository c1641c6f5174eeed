"""Stock care's pure rules (server.rules.care), called directly."""

from __future__ import annotations

from datetime import date

import pytest

from server.rules import care


@pytest.mark.refuses("SEC-01")
def test_a_count_is_approved_by_a_person_who_did_not_count_it() -> None:
    assert care.count_approver_refusal("id:A", {"id:B", "account:7"}) is None
    refused = care.count_approver_refusal("id:B", {"id:B", "account:7"})
    assert refused is not None and refused.rule == "SEC-01"


@pytest.mark.refuses("ST-02")
def test_a_sheet_is_posted_once_after_it_is_submitted() -> None:
    assert care.count_posting_refusal(1, "submitted") is None
    for status in ("open", "posted"):
        v = care.count_posting_refusal(1, status)
        assert v is not None and v.rule == "ST-02" and v.details == {"status": status}


@pytest.mark.refuses("ST-01")
def test_every_line_is_counted_and_a_variance_says_why_unless_blind() -> None:
    lines = [("B1", 10, 10, ""), ("B2", 10, 8, ""), ("B3", 5, None, "")]
    assert [v.details["batch"] for v in care.variance_refusals(lines)] == ["B2", "B3"]
    assert [v.details["batch"] for v in care.variance_refusals(lines, need_reasons=False)] == ["B3"]
    assert care.variance_refusals([("B2", 10, 8, "破损")]) == []


def test_a_gain_is_costed_at_the_current_unit_cost_or_at_zero_stock_its_receipt_cost() -> None:
    assert care.gain_cost(1600, 48, 2, 800, 24) == 67  # 66.67 half up
    assert care.gain_cost(1000, 3, 1, 999, 1) == 333
    assert care.gain_cost(0, 0, 2, 230, 1) == 460  # at zero: the receipt's cost per unit
    assert care.gain_cost(0, 0, 5, 800, 24) == 167  # 800 a box of 24: 5 × 33.33 half up


@pytest.mark.refuses("GSP-06")
def test_a_destruction_has_its_method_and_two_witnesses_other_than_the_actor_and_each_other() -> None:
    assert care.destruction_refusals("id:A", ["id:B", "id:C"], "焚烧") == []
    cases = [(["id:B", "id:C"], " "), (["id:B"], "焚烧"), (["id:A", "id:C"], "焚烧"), (["id:B", "id:B"], "焚烧")]
    for witnesses, method in cases:
        found = care.destruction_refusals("id:A", witnesses, method)
        assert [v.rule for v in found] == ["GSP-06"], (witnesses, method)


@pytest.mark.refuses("GSP-06")
def test_an_expiry_write_off_is_for_an_expired_batch() -> None:
    today = date(2026, 12, 7)
    assert care.expiry_writeoff_refusal("B", date(2026, 12, 6), today) is None
    assert care.expiry_writeoff_refusal("B", today, today) is not None  # its last day: not expired yet


@pytest.mark.parametrize("days", [0, 30, 90, 180])
def test_near_expiry_follows_the_configured_days(days: int) -> None:
    today = date(2026, 12, 7)
    from datetime import timedelta

    assert care.near_expiry(today + timedelta(days=days), today, days)
    assert not care.near_expiry(today + timedelta(days=days + 1), today, days)
    assert not care.near_expiry(today - timedelta(days=1), today, days)  # expired: blocked, not "near"


def test_an_upkeep_line_says_what_was_seen_and_a_doubt_says_what_it_is() -> None:
    assert care.upkeep_line_refusals(1, "完好", "完好", "常温", "ok", "") == []
    assert [v.rule for v in care.upkeep_line_refusals(1, "完好", "", "常温", "ok", "")] == ["GSP-06"]
    assert [v.rule for v in care.upkeep_line_refusals(1, "完好", "完好", "常温", "doubt", "")] == ["GSP-06"]
    assert [v.rule for v in care.upkeep_line_refusals(1, "完好", "完好", "常温", "bad", "")] == ["VALIDATION"]
