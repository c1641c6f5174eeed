"""Pure rules of issue #17's prescription section: the days' supply computed from quantity, dose and frequency
(RX-06), the written drug name against the dispensed item's generic name (RX-04), a 缺货 refusal naming the
pharmacy arranged (RX-05), and the store's validity (RX-07)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.violations import Violation
from server.rules.drug_names import same_drug, split_form
from server.rules.prescriptions import (
    Course,
    RejectReason,
    RxFacts,
    RxLineFacts,
    prescriber_limit_refusals,
    review_reason_refusals,
    validity_refusals,
    written_name_refusals,
)
from server.rules.supply import PackFacts, dose_in_pieces, supply_days, takes_per_day

AMOX = PackFacts("盒", "粒", 24, "0.25g*24粒")  # split-pack: 24 capsules of 0.25 g
VITC = PackFacts("盒", None, 1, "0.1g*100片")  # whole boxes of 100 tablets
SYRUP = PackFacts("盒", None, 1, "10ml×6支")
CREAM = PackFacts("支", None, 1, "20g")
BLISTERS = PackFacts("盒", None, 1, "0.3g*12片*2板")


@pytest.mark.parametrize(("written", "per_day"), [
    ("qd", 1), ("QD", 1), ("q.d.", 1), ("ｂｉｄ", 2), ("bid", 2), ("tid", 3), ("t.i.d.", 3), ("qid", 4),
    ("q8h", 3), ("q12h", 2), ("q6h", 4), ("q4h", 6), ("qn", 1), ("hs", 1), ("qod", Fraction(1, 2)),
    ("qw", Fraction(1, 7)), ("biw", Fraction(2, 7)),
    ("每日一次", 1), ("一日两次", 2), ("每日3次", 3), ("一日三次", 3), ("每天四次", 4), ("每8小时一次", 3),
    ("每12小时1次", 2), ("每晚一次", 1), ("睡前", 1), ("隔日一次", Fraction(1, 2)), ("每周两次", Fraction(2, 7)),
    ("prn", 1), ("必要时", 1), ("prn tid", 3), ("q8h prn", 3), ("prn,bid", 2),
])
def test_frequencies_as_prescriptions_write_them(written: str, per_day: Fraction) -> None:
    assert takes_per_day(written) == per_day


@pytest.mark.parametrize("written", ["", "xyz", "tid bid", "q0h", "每日零次", "遵医嘱", "3"])
def test_an_unknown_frequency_is_not_guessed(written: str) -> None:
    assert takes_per_day(written) is None


@pytest.mark.parametrize(("pack", "dose", "pieces"), [
    (AMOX, "0.5g", 2), (AMOX, "500mg", 2), (AMOX, "2粒", 2), (AMOX, "半粒", Fraction(1, 2)), (AMOX, "1盒", 24),
    (AMOX, "0.5 g", 2), (AMOX, "０.５ｇ", 2),
    (VITC, "1片", 1), (VITC, "0.2g", 2), (VITC, "200mg", 2), (SYRUP, "10ml", 1), (SYRUP, "1支", 1),
    (CREAM, "2g", Fraction(1, 10)), (BLISTERS, "2片", 2),
])
def test_a_dose_in_the_smallest_unit(pack: PackFacts, dose: str, pieces: Fraction) -> None:
    assert dose_in_pieces(dose, pack) == pieces


@pytest.mark.parametrize(("pack", "dose"), [
    (AMOX, "适量"), (AMOX, "1片"), (AMOX, "10ml"), (AMOX, "0g"), (CREAM, "1片"), (PackFacts("瓶", None, 1, ""), "5ml"),
])
def test_a_dose_the_catalog_cannot_convert_is_not_guessed(pack: PackFacts, dose: str) -> None:
    assert dose_in_pieces(dose, pack) is None


@pytest.mark.parametrize(("qty", "split", "pack", "dose", "freq", "days"), [
    (2, False, AMOX, "0.5g", "tid", 8),  # 48 capsules at 6 a day
    (2, False, AMOX, "0.5g", "qid", 6),
    (6, True, AMOX, "1粒", "tid", 2),  # split: the quantity is already in capsules
    (10, False, AMOX, "0.5g", "tid", 40),
    (1, False, VITC, "0.1g", "tid", 34),  # 100 tablets, 3 a day: the last day is a part day
    (2, False, SYRUP, "10ml", "bid", 6),
    (1, False, BLISTERS, "2片", "每日三次", 4),
    (1, False, AMOX, "1粒", "prn", 24),
])
def test_days_supply_is_computed(qty: int, split: bool, pack: PackFacts, dose: str, freq: str, days: int) -> None:
    assert supply_days(qty, split, dose, freq, pack) == days


@pytest.mark.refuses("RX-02")
def test_days_supply_that_cannot_be_computed_is_refused_naming_why() -> None:
    unknown = supply_days(1, False, "0.5g", "一天几次", AMOX, "阿莫西林胶囊")
    assert isinstance(unknown, Violation) and unknown.rule == "RX-02" and "频次「一天几次」无法识别" in unknown.message_zh
    topical = supply_days(1, False, "适量", "bid", CREAM, "莫匹罗星软膏")
    assert isinstance(topical, Violation) and "无法按规格「20g」换算" in topical.message_zh


@given(qty=st.integers(1, 200), dose=st.integers(1, 8), per_day=st.sampled_from(["qd", "bid", "tid", "qid"]))
def test_days_supply_covers_the_quantity_and_no_day_more(qty: int, dose: int, per_day: str) -> None:
    days = supply_days(qty, True, f"{dose}粒", per_day, AMOX)
    assert isinstance(days, int)
    daily = dose * {"qd": 1, "bid": 2, "tid": 3, "qid": 4}[per_day]
    assert (days - 1) * daily < qty <= days * daily


# --- the written name (RX-04 at review) ------------------------------------------------------------------

@pytest.mark.parametrize(("written", "generic"), [
    ("阿莫西林胶囊", "阿莫西林胶囊"), ("阿莫西林", "阿莫西林胶囊"), ("阿莫西林胶囊", "阿莫西林"),
    ("阿莫西林 胶囊", "阿莫西林胶囊"), ("ＶｉｔＣ片", "VitC片"), ("维生素Ｃ片", "维生素C片"), ("vitamin c", "Vitamin C"),
    ("硝苯地平缓释片", "硝苯地平缓释片"),
])
def test_the_same_generic_name_matches(written: str, generic: str) -> None:
    assert same_drug(written, generic)


@pytest.mark.parametrize(("written", "generic"), [
    ("阿莫西林胶囊", "头孢氨苄胶囊"),
    ("阿莫西林片", "阿莫西林胶囊"),  # two forms that differ
    ("硝苯地平缓释片", "硝苯地平片"),  # modified release is part of the name
    ("硝苯地平", "硝苯地平缓释片"),
    ("阿莫西林胶囊(阿莫仙)", "阿莫西林胶囊"),  # a brand in brackets is not read away
    ("", "阿莫西林胶囊"), ("胶囊", "阿莫西林胶囊"),
])
def test_a_different_drug_or_form_does_not_match(written: str, generic: str) -> None:
    assert not same_drug(written, generic)


def test_the_form_suffix_is_read_longest_first() -> None:
    assert split_form("维生素E软胶囊") == ("维生素e", "软胶囊")
    assert split_form("布洛芬混悬液") == ("布洛芬", "混悬液")


def line(code: str, written: str, generic: str, **kw: Any) -> RxLineFacts:
    base = RxLineFacts(item_code=code, drug_name=written, qty=1, days=3, dosage="1片", frequency="tid",
                       route="口服", dosage_form="片", generic_name=generic)
    return replace(base, **kw)


def rx(*lines: RxLineFacts, **kw: Any) -> RxFacts:
    base = RxFacts(
        rx_no="RX1", electronic=False, for_insurance=False, institution=None, doctor_name="李医生", doctor_signed=True,
        institution_sealed=False, waipei_sealed=False, issued_on=date(2026, 3, 10), valid_days=0,
        patient_name="张三", patient_sex="男", patient_age=40, diagnosis="咽炎", course=Course.ACUTE, lines=lines)
    return replace(base, **kw)


@pytest.mark.refuses("RX-04")
def test_a_substitution_is_refused_naming_both_names() -> None:
    assert written_name_refusals(rx(line("A", "阿莫西林", "阿莫西林胶囊"))) == []
    refusals = written_name_refusals(rx(line("A", "阿莫西林", "阿莫西林胶囊"), line("B", "头孢拉定胶囊", "头孢氨苄胶囊")))
    assert [v.rule for v in refusals] == ["RX-04"]
    assert refusals[0].details["written"] == "头孢拉定胶囊" and refusals[0].details["generic_name"] == "头孢氨苄胶囊"
    assert "第2行" in refusals[0].message_zh


@pytest.mark.refuses("RX-06")
def test_the_same_class_is_read_alike_whatever_its_width_or_spaces() -> None:
    two = (line("A", "a", "a", pharm_class="青霉素类"), line("B", "b", "b", pharm_class=" 青霉素类"))
    assert prescriber_limit_refusals(rx(*two), "A") == []
    three = rx(*two, line("C", "c", "c", pharm_class="青霉素类 "))
    refusals = prescriber_limit_refusals(three, "A")
    assert [v.rule for v in refusals] == ["RX-06"] and refusals[0].details["pharm_class"] == "青霉素类"


# --- RX-05: a refusal's reason, and the pharmacy arranged ---------------------------------------------------

@pytest.mark.refuses("RX-05")
@pytest.mark.parametrize("verdict", ["rejected", "referred"])
def test_out_of_stock_names_the_other_designated_pharmacy(verdict: str) -> None:
    bare = review_reason_refusals(verdict, RejectReason.OUT_OF_STOCK, "  ")
    assert [v.rule for v in bare] == ["RX-05"] and "其他定点药店" in bare[0].message_zh
    assert review_reason_refusals(verdict, RejectReason.OUT_OF_STOCK, "丁点大药房科技园店") == []


@pytest.mark.refuses("RX-05")
def test_a_refusal_needs_a_reason_and_an_approval_takes_none() -> None:
    assert [v.rule for v in review_reason_refusals("rejected", None, "")] == ["RX-05"]
    assert [v.rule for v in review_reason_refusals("approved", RejectReason.DOSE, "")] == ["RX-05"]
    assert review_reason_refusals("rejected", RejectReason.DOSE, "") == []
    assert review_reason_refusals("approved", None, "") == []


# --- RX-07: the store's validity is read --------------------------------------------------------------------

@pytest.mark.refuses("RX-07")
def test_the_stores_validity_holds_unless_the_prescriber_wrote_one() -> None:
    issued = date(2026, 3, 10)
    unwritten = rx(line("A", "a", "a"), issued_on=issued, valid_days=0)
    assert validity_refusals(unwritten, issued + timedelta(days=1), 3, default_valid_days=2) == []
    assert [v.rule for v in validity_refusals(unwritten, issued + timedelta(days=2), 3, default_valid_days=2)] == ["RX-07"]
    assert [v.rule for v in validity_refusals(unwritten, issued + timedelta(days=1), 3, default_valid_days=1)] == ["RX-07"]
    written = rx(line("A", "a", "a"), issued_on=issued, valid_days=3)
    assert validity_refusals(written, issued + timedelta(days=2), 3, default_valid_days=1) == []
