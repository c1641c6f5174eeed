"""Prescription rules as pure functions: RX-02 content, RX-07 validity and splits, RX-06 prescriber limits,
RX-04 dispensing against what is left, RX-03/RX-11 the patient is the insured person or a recorded proxy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.rules.prescriptions import (
    Course,
    InstitutionFacts,
    PriorRx,
    RxFacts,
    RxLineFacts,
    RxLineLeft,
    RxSaleLine,
    content_refusals,
    dispense_plan,
    patient_refusals,
    prescriber_limit_refusals,
    split_refusals,
    validity_refusals,
)

ISSUED = date(2025, 3, 10)
MAX_VALID = 3  # national 处方管理办法; configurable


def rx_line(item_code: str = "X01", **kw: Any) -> RxLineFacts:
    base = RxLineFacts(item_code=item_code, drug_name=f"药品{item_code}", qty=2, days=5, dosage="0.5g",
                       frequency="tid", route="口服", dosage_form="片剂", pharm_class="")
    return replace(base, **kw)


def institution(**kw: Any) -> InstitutionFacts:
    base = InstitutionFacts(code="H11010001", name="市第一人民医院", designated=True, doctor_registered=True)
    return replace(base, **kw)


def make_rx(**kw: Any) -> RxFacts:
    """A complete, signed and sealed paper 外配处方 from a designated institution: nothing to refuse."""
    base = RxFacts(
        rx_no="RX001", electronic=False, for_insurance=True, institution=institution(), doctor_name="李医生",
        doctor_signed=True, institution_sealed=True, waipei_sealed=True, issued_on=ISSUED, valid_days=1,
        patient_name="张三", patient_sex="男", patient_age=45, diagnosis="高血压", course=Course.CHRONIC,
        lines=(rx_line("X01"),))
    return replace(base, **kw)


def with_line(**kw: object) -> RxFacts:
    return make_rx(lines=(rx_line("X01", **kw),))


def rules_of(violations: list) -> list[str]:
    return [v.rule for v in violations]


def missing_of(violations: list) -> list[str]:
    return [m for v in violations for m in v.details.get("missing", [])]


# --- content_refusals (RX-02) --------------------------------------------------------------------------


@pytest.mark.parametrize("for_insurance", [True, False])
@pytest.mark.parametrize("electronic", [True, False])
def test_rx02_complete_prescription_passes(for_insurance: bool, electronic: bool) -> None:
    rx = make_rx(for_insurance=for_insurance, electronic=electronic)
    assert content_refusals(rx, waipei_seal_required=True) == []
    assert content_refusals(rx, waipei_seal_required=False) == []


@pytest.mark.refuses("RX-02")
@pytest.mark.parametrize(("change", "missing"), [
    (dict(patient_name=""), "患者姓名"),
    (dict(patient_name="   "), "患者姓名"),
    (dict(patient_sex=""), "性别"),
    (dict(patient_sex="未知"), "性别"),
    (dict(patient_age=None), "年龄"),
    (dict(issued_on=None), "开具日期"),
    (dict(diagnosis=""), "诊断"),
    (dict(diagnosis="  "), "诊断"),
    (dict(doctor_name=""), "处方医师"),
    (dict(lines=()), "药品"),
])
def test_rx02_each_missing_header_item_is_refused_by_name(change: dict, missing: str) -> None:
    """RX-02: one required item missing at a time is refused, naming exactly that item."""
    refusals = content_refusals(make_rx(**change), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert missing_of(refusals) == [missing]
    assert missing in refusals[0].message_zh
    assert "1 item(s)" in refusals[0].message_en


@pytest.mark.refuses("RX-02")
@pytest.mark.parametrize(("change", "missing"), [
    (dict(dosage_form=""), "剂型"),
    (dict(dosage=""), "剂量"),
    (dict(dosage=" "), "剂量"),
    (dict(qty=0), "数量"),
    (dict(qty=-1), "数量"),
    (dict(frequency=""), "用法"),
    (dict(route=""), "用法"),
    (dict(drug_name=""), "药品名称"),
    (dict(drug_name=" "), "药品名称"),
])
def test_rx02_each_missing_line_item_is_refused_naming_the_line(change: dict, missing: str) -> None:
    """RX-02: per-line drug name as written, dosage form, dose, quantity and usage; the line number is named.
    (The days' supply is computed, not written: server.rules.supply.)"""
    rx = make_rx(lines=(rx_line("X01"), rx_line("X02", **change)))
    refusals = content_refusals(rx, waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert missing_of(refusals) == [f"第2行{missing}"]
    assert f"第2行{missing}" in refusals[0].message_zh


@pytest.mark.refuses("RX-02")
def test_rx02_several_missing_items_are_all_named_in_one_refusal() -> None:
    rx = make_rx(patient_age=None, diagnosis="", lines=(rx_line("X01", drug_name=""),))
    refusals = content_refusals(rx, waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert missing_of(refusals) == ["年龄", "诊断", "第1行药品名称"]


def test_rx02_infant_age_zero_is_present() -> None:
    assert content_refusals(make_rx(patient_age=0), waipei_seal_required=False) == []


@pytest.mark.refuses("RX-02")
@pytest.mark.parametrize("for_insurance", [True, False])
def test_rx02_unsigned_paper_prescription_is_refused(for_insurance: bool) -> None:
    refusals = content_refusals(make_rx(doctor_signed=False, for_insurance=for_insurance), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert "签名" in refusals[0].message_zh
    assert "signed" in refusals[0].message_en


def test_rx02_electronic_prescription_needs_no_signature_or_seals() -> None:
    rx = make_rx(electronic=True, doctor_signed=False, institution_sealed=False, waipei_sealed=False)
    assert content_refusals(rx, waipei_seal_required=True) == []


@pytest.mark.refuses("RX-02")
def test_rx02_insurance_institution_missing_from_registry_is_refused() -> None:
    refusals = content_refusals(make_rx(institution=None), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert "名录" in refusals[0].message_zh and "registry" in refusals[0].message_en


@pytest.mark.refuses("RX-02")
def test_rx02_electronic_insurance_prescription_still_needs_a_registered_institution() -> None:
    refusals = content_refusals(make_rx(electronic=True, institution=None), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]


@pytest.mark.refuses("RX-02")
def test_rx02_insurance_institution_not_designated_is_refused() -> None:
    refusals = content_refusals(make_rx(institution=institution(designated=False)), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert refusals[0].details == {"institution": "H11010001"}
    assert "不是定点医疗机构" in refusals[0].message_zh


@pytest.mark.refuses("RX-02")
def test_rx02_insurance_doctor_not_registered_is_refused() -> None:
    refusals = content_refusals(make_rx(institution=institution(doctor_registered=False)), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert "李医生" in refusals[0].message_zh
    assert refusals[0].details == {"institution": "H11010001"}


@pytest.mark.refuses("RX-02")
def test_rx02_insurance_paper_prescription_without_institution_seal_is_refused() -> None:
    refusals = content_refusals(make_rx(institution_sealed=False), waipei_seal_required=False)
    assert rules_of(refusals) == ["RX-02"]
    assert "盖章" in refusals[0].message_zh


def test_rx02_non_insurance_prescription_skips_registry_and_seal_checks() -> None:
    """The designated-institution checks are for 外配处方 paid by the card only."""
    rx = make_rx(for_insurance=False, institution=None, institution_sealed=False, waipei_sealed=False)
    assert content_refusals(rx, waipei_seal_required=True) == []


@pytest.mark.refuses("RX-02")
@pytest.mark.parametrize(("required", "sealed", "refused"), [
    (True, False, True), (True, True, False), (False, False, False), (False, True, False),
])
def test_rx02_waipei_seal_only_where_the_region_requires_it(required: bool, sealed: bool, refused: bool) -> None:
    refusals = content_refusals(make_rx(waipei_sealed=sealed), waipei_seal_required=required)
    if refused:
        assert rules_of(refusals) == ["RX-02"]
        assert "外配处方专用章" in refusals[0].message_zh
    else:
        assert refusals == []


# --- validity_refusals (RX-07) -------------------------------------------------------------------------


@pytest.mark.refuses("RX-07")
def test_rx07_issue_day_is_day_one() -> None:
    rx = make_rx(valid_days=1)
    assert validity_refusals(rx, ISSUED, MAX_VALID, default_valid_days=1) == []
    expired = validity_refusals(rx, ISSUED + timedelta(days=1), MAX_VALID, default_valid_days=1)
    assert rules_of(expired) == ["RX-07"]
    assert expired[0].details["valid_until"] == ISSUED.isoformat()
    assert "过期" in expired[0].message_zh and "expired" in expired[0].message_en


@pytest.mark.refuses("RX-07")
def test_rx07_post_dated_prescription_is_refused() -> None:
    refusals = validity_refusals(make_rx(valid_days=3), ISSUED - timedelta(days=1), MAX_VALID, default_valid_days=1)
    assert rules_of(refusals) == ["RX-07"]
    assert refusals[0].details == {"issued_on": ISSUED.isoformat()}
    assert "post-dated" in refusals[0].message_en


@pytest.mark.refuses("RX-07")
@pytest.mark.parametrize("valid_days", [1, 2, 3])
def test_rx07_extended_validity_up_to_the_maximum_ends_exactly(valid_days: int) -> None:
    rx = make_rx(valid_days=valid_days)
    last = ISSUED + timedelta(days=valid_days - 1)
    assert validity_refusals(rx, last, MAX_VALID, default_valid_days=1) == []
    after = validity_refusals(rx, last + timedelta(days=1), MAX_VALID, default_valid_days=1)
    assert rules_of(after) == ["RX-07"]
    assert after[0].details["valid_until"] == last.isoformat()


@pytest.mark.refuses("RX-07")
def test_rx07_validity_beyond_the_maximum_is_refused_even_on_the_issue_day() -> None:
    refusals = validity_refusals(make_rx(valid_days=MAX_VALID + 1), ISSUED, MAX_VALID, default_valid_days=1)
    assert rules_of(refusals) == ["RX-07"]
    assert refusals[0].details == {"valid_days": MAX_VALID + 1}
    assert f"最长 {MAX_VALID} 天" in refusals[0].message_zh


@pytest.mark.refuses("RX-07")
def test_rx07_configured_maximum_is_honoured() -> None:
    rx = make_rx(valid_days=5)
    assert validity_refusals(rx, ISSUED + timedelta(days=4), 5, default_valid_days=1) == []
    assert rules_of(validity_refusals(rx, ISSUED + timedelta(days=5), 5, default_valid_days=1)) == ["RX-07"]
    assert rules_of(validity_refusals(rx, ISSUED, 4, default_valid_days=1)) == ["RX-07"]


@pytest.mark.refuses("RX-07")
@settings(max_examples=300, deadline=None)
@given(issued=st.dates(date(2000, 1, 1), date(2099, 12, 31)), offset=st.integers(-10, 10),
       valid_days=st.integers(1, 10), max_valid=st.integers(1, 7))
def test_rx07_valid_iff_within_window_and_not_over_maximum(issued: date, offset: int, valid_days: int,
                                                           max_valid: int) -> None:
    """RX-07: valid ⇔ issued_on <= today <= issued_on + min(valid_days, max) - 1 and valid_days <= max."""
    today = issued + timedelta(days=offset)
    expected_valid = (issued <= today <= issued + timedelta(days=min(valid_days, max_valid) - 1)
                      and valid_days <= max_valid)
    refusals = validity_refusals(make_rx(issued_on=issued, valid_days=valid_days), today, max_valid, default_valid_days=1)
    assert (refusals == []) == expected_valid
    assert all(v.rule == "RX-07" for v in refusals)


# --- split_refusals (RX-07) ----------------------------------------------------------------------------


def prior(**kw: Any) -> PriorRx:
    base = PriorRx(rx_no="RX000", patient_name="张三", patient_id="", doctor_name="李医生",
                   issued_on=ISSUED, item_codes=frozenset({"X01"}))
    return replace(base, **kw)


@pytest.mark.refuses("RX-07")
def test_rx07_split_same_patient_doctor_day_and_drug_is_refused() -> None:
    rx = make_rx(lines=(rx_line("X01"), rx_line("X02")))
    refusals = split_refusals(rx, "", [prior(item_codes=frozenset({"X01", "X09"}))])
    assert rules_of(refusals) == ["RX-07"]
    assert refusals[0].details == {"other_rx": "RX000", "items": ["X01"]}
    assert "分解" in refusals[0].message_zh and "RX000" in refusals[0].message_zh


@pytest.mark.refuses("RX-07")
def test_rx07_split_each_other_prescription_is_named() -> None:
    others = [prior(rx_no="RX000"), prior(rx_no="RX002"), prior(rx_no="RX003", doctor_name="王医生")]
    refusals = split_refusals(make_rx(), "", others)
    assert [v.details["other_rx"] for v in refusals] == ["RX000", "RX002"]


@pytest.mark.parametrize("change", [
    dict(issued_on=ISSUED - timedelta(days=1)),
    dict(issued_on=ISSUED + timedelta(days=1)),
    dict(doctor_name="王医生"),
    dict(item_codes=frozenset({"X02"})),
    dict(patient_name="李四"),
])
def test_rx07_split_differing_day_doctor_drug_or_patient_passes(change: dict) -> None:
    assert split_refusals(make_rx(), "", [prior(**change)]) == []


@pytest.mark.refuses("RX-07")
def test_rx07_split_patient_matched_by_id_when_given() -> None:
    rx = make_rx()
    # Same id, different spelling of the name: the same patient.
    assert rules_of(split_refusals(rx, "110105194912310021", [prior(patient_name="张 三",
                                                                       patient_id="110105194912310021")])) == ["RX-07"]
    # Same name, different id: a namesake, not the same patient.
    assert split_refusals(rx, "110105194912310021", [prior(patient_id="110105198001010013")]) == []


@pytest.mark.refuses("RX-07")
def test_rx07_split_patient_matched_by_name_without_id() -> None:
    rx = make_rx()
    assert rules_of(split_refusals(rx, "", [prior()])) == ["RX-07"]
    assert split_refusals(rx, "", [prior(patient_name="李四")]) == []


def test_rx07_same_rx_no_is_not_a_split_of_itself() -> None:
    assert split_refusals(make_rx(rx_no="RX001"), "", [prior(rx_no="RX001")]) == []


# --- prescriber_limit_refusals (RX-06) -----------------------------------------------------------------


@pytest.mark.refuses("RX-06")
@pytest.mark.parametrize(("profile", "course", "limit"), [
    ("A", Course.ACUTE, 7), ("A", Course.CHRONIC, 15), ("A", Course.LONG_TERM, 30),
    ("B", Course.ACUTE, 3), ("B", Course.ORDINARY, 7), ("B", Course.CHRONIC, 15),
])
def test_rx06_supply_days_limit_is_exact(profile: str, course: Course, limit: int) -> None:
    """RX-06: the limit itself is allowed, one day more goes back to the prescriber with the limit named."""
    assert prescriber_limit_refusals(make_rx(course=course, lines=(rx_line("X01", days=limit),)), profile) == []
    rx = make_rx(course=course, lines=(rx_line("X01", days=limit), rx_line("X02", days=limit + 1)))
    refusals = prescriber_limit_refusals(rx, profile)
    assert rules_of(refusals) == ["RX-06"]
    assert refusals[0].details == {"item": "X02", "days": limit + 1, "limit": limit}
    assert f"{course.label}处方限量 {limit} 天" in refusals[0].message_zh


@pytest.mark.refuses("RX-06")
def test_rx06_profile_a_at_most_two_of_the_same_class() -> None:
    two = (rx_line("X01", pharm_class="ACEI"), rx_line("X02", pharm_class="ACEI"), rx_line("X03", pharm_class="CCB"))
    assert prescriber_limit_refusals(make_rx(lines=two), "A") == []
    three = (*two, rx_line("X04", pharm_class="ACEI"))
    refusals = prescriber_limit_refusals(make_rx(lines=three), "A")
    assert rules_of(refusals) == ["RX-06"]
    assert refusals[0].details == {"pharm_class": "ACEI", "drugs": ["药品X01", "药品X02", "药品X04"]}
    assert "不得超过 2 种" in refusals[0].message_zh


def test_rx06_unclassified_drugs_do_not_count_as_one_class() -> None:
    lines = tuple(rx_line(f"X0{n}") for n in range(1, 5))
    assert prescriber_limit_refusals(make_rx(lines=lines), "A") == []


@pytest.mark.refuses("RX-06")
def test_rx06_profile_a_no_injections_except_insulin() -> None:
    insulin = make_rx(lines=(rx_line("X01", injection=True, insulin=True, dosage_form="注射剂"),))
    assert prescriber_limit_refusals(insulin, "A") == []
    other = make_rx(lines=(rx_line("X01"), rx_line("X02", injection=True, dosage_form="注射剂")))
    refusals = prescriber_limit_refusals(other, "A")
    assert rules_of(refusals) == ["RX-06"]
    assert refusals[0].details == {"item": "X02"}
    assert "注射剂" in refusals[0].message_zh


@pytest.mark.refuses("RX-06")
def test_rx06_profile_b_at_most_five_drugs() -> None:
    five = tuple(rx_line(f"X0{n}") for n in range(1, 6))
    assert prescriber_limit_refusals(make_rx(lines=five), "B") == []
    refusals = prescriber_limit_refusals(make_rx(lines=(*five, rx_line("X06"))), "B")
    assert rules_of(refusals) == ["RX-06"]
    assert refusals[0].details == {"drugs": 6, "limit": 5}


def test_rx06_profile_b_has_neither_class_nor_injection_limits() -> None:
    lines = (rx_line("X01", pharm_class="ACEI"), rx_line("X02", pharm_class="ACEI"),
             rx_line("X03", pharm_class="ACEI"), rx_line("X04", injection=True))
    assert prescriber_limit_refusals(make_rx(lines=lines), "B") == []


def test_rx06_profile_a_has_no_drug_count_limit() -> None:
    lines = tuple(rx_line(f"X{n:02d}") for n in range(1, 9))
    assert prescriber_limit_refusals(make_rx(lines=lines), "A") == []


# --- dispense_plan (RX-04) -----------------------------------------------------------------------------


def left(rx_line_id: int, item_id: int, remaining: int) -> RxLineLeft:
    return RxLineLeft(rx_line_id=rx_line_id, item_id=item_id, drug_name=f"药品{item_id}", remaining=remaining)


def sale(sale_line_id: int, item_id: int, qty: int) -> RxSaleLine:
    return RxSaleLine(sale_line_id=sale_line_id, item_id=item_id, name=f"药品{item_id}", qty=qty)


def test_rx04_sale_line_maps_to_the_prescription_line_of_the_same_drug() -> None:
    plan, refusals = dispense_plan([sale(1, 20, 3), sale(2, 10, 2)], [left(100, 10, 2), left(101, 20, 6)])
    assert refusals == []
    assert plan == {1: 101, 2: 100}


@pytest.mark.refuses("RX-04")
def test_rx04_substitution_is_refused() -> None:
    plan, refusals = dispense_plan([sale(1, 30, 1)], [left(100, 10, 5)])
    assert plan == {}
    assert rules_of(refusals) == ["RX-04"]
    assert refusals[0].details == {"sale_line_id": 1}
    assert "不在处方上" in refusals[0].message_zh and "substitution" in refusals[0].message_en


@pytest.mark.refuses("RX-04")
def test_rx04_more_than_remaining_is_refused_naming_the_remaining() -> None:
    assert dispense_plan([sale(1, 10, 4)], [left(100, 10, 4)]) == ({1: 100}, [])
    plan, refusals = dispense_plan([sale(1, 10, 5)], [left(100, 10, 4)])
    assert plan == {}
    assert rules_of(refusals) == ["RX-04"]
    assert refusals[0].details == {"sale_line_id": 1, "remaining": 4, "requested": 5}
    assert "剩余数量 4" in refusals[0].message_zh


@pytest.mark.refuses("RX-04")
def test_rx04_second_fill_is_refused() -> None:
    plan, refusals = dispense_plan([sale(1, 10, 1)], [left(100, 10, 0)])
    assert plan == {}
    assert rules_of(refusals) == ["RX-04"]
    assert refusals[0].details["remaining"] == 0
    assert "不得重复调配" in refusals[0].message_zh


@pytest.mark.refuses("RX-04")
def test_rx04_two_sale_lines_share_one_prescription_lines_remaining() -> None:
    plan, refusals = dispense_plan([sale(1, 10, 3), sale(2, 10, 2)], [left(100, 10, 5)])
    assert (plan, refusals) == ({1: 100, 2: 100}, [])
    plan, refusals = dispense_plan([sale(1, 10, 3), sale(2, 10, 3)], [left(100, 10, 5)])
    assert plan == {1: 100}
    assert rules_of(refusals) == ["RX-04"]
    assert refusals[0].details == {"sale_line_id": 2, "remaining": 2, "requested": 3}


ITEMS = st.integers(1, 4)


@st.composite
def dispense_case(draw: st.DrawFn) -> tuple[list[RxSaleLine], list[RxLineLeft]]:
    rx_items = draw(st.lists(ITEMS, max_size=5))
    rx_lines = [left(100 + n, item, draw(st.integers(0, 10))) for n, item in enumerate(rx_items)]
    sale_items = draw(st.lists(st.tuples(ITEMS, st.integers(1, 12)), max_size=7))
    return [sale(n + 1, item, qty) for n, (item, qty) in enumerate(sale_items)], rx_lines


@pytest.mark.refuses("RX-04")
@settings(max_examples=300, deadline=None)
@given(dispense_case())
def test_rx04_plan_never_exceeds_remaining_and_every_line_is_planned_xor_refused(
        case: tuple[list[RxSaleLine], list[RxLineLeft]]) -> None:
    """RX-04: per prescription line, the planned quantity stays within what is left; each sale line is
    planned to a line of the same drug, or refused, exactly once."""
    sale_lines, rx_lines = case
    plan, refusals = dispense_plan(sale_lines, rx_lines)
    by_id = {r.rx_line_id: r for r in rx_lines}
    qty = {s.sale_line_id: s for s in sale_lines}
    used: dict[int, int] = {}
    for sale_line_id, rx_line_id in plan.items():
        assert by_id[rx_line_id].item_id == qty[sale_line_id].item_id
        used[rx_line_id] = used.get(rx_line_id, 0) + qty[sale_line_id].qty
    assert all(used[r] <= by_id[r].remaining for r in used)
    assert all(v.rule == "RX-04" for v in refusals)
    refused = [v.details["sale_line_id"] for v in refusals]
    assert len(refused) == len(set(refused))
    assert set(refused).isdisjoint(plan)
    assert set(refused) | set(plan) == set(qty)


# --- patient_refusals (RX-03 / RX-11) ------------------------------------------------------------------

CERT = "110105194912310021"


def test_rx03_same_person_by_id() -> None:
    # The id decides: a different spelling of the name on the card does not matter.
    assert patient_refusals("张三", CERT, "张 三", CERT) == []


def test_rx03_same_person_by_name_when_the_prescription_has_no_id() -> None:
    assert patient_refusals("张三", "", "张三", CERT) == []


@pytest.mark.refuses("RX-03")
def test_rx03_id_mismatch_is_refused_even_with_the_same_name() -> None:
    refusals = patient_refusals("张三", "110105198001010013", "张三", CERT)
    assert rules_of(refusals) == ["RX-03"]


@pytest.mark.refuses("RX-03")
def test_rx03_name_mismatch_without_id_is_refused_naming_both() -> None:
    refusals = patient_refusals("李四", "", "张三", CERT)
    assert rules_of(refusals) == ["RX-03"]
    assert "李四" in refusals[0].message_zh and "张三" in refusals[0].message_zh
    assert "RX-11" in refusals[0].message_zh and "proxy" in refusals[0].message_en
    assert CERT not in refusals[0].message_zh + refusals[0].message_en


@pytest.mark.refuses("RX-03")
def test_rx03_a_proxy_buyer_does_not_make_someone_elses_prescription_the_insured_persons() -> None:
    """RX-03 / RX-11: 代购 records who buys; the prescription's patient must still be the card's insured person."""
    assert rules_of(patient_refusals("李四", "110105198001010013", "张三", CERT)) == ["RX-03"]


# Keep the fixtures honest: the base prescription really is complete under every check.
def test_base_prescription_passes_every_rule() -> None:
    rx = make_rx()
    assert content_refusals(rx, waipei_seal_required=True) == []
    assert validity_refusals(rx, ISSUED, MAX_VALID, default_valid_days=1) == []
    assert prescriber_limit_refusals(rx, "A") == [] and prescriber_limit_refusals(rx, "B") == []
    assert split_refusals(rx, "", []) == []
    assert patient_refusals(rx.patient_name, "", rx.patient_name, CERT) == []


# --- Known bugs in server/rules/prescriptions.py (uncommitted: these fail until the rule is fixed) -------


@pytest.mark.refuses("RX-07")
def test_rx07_split_detected_when_the_earlier_prescription_has_no_patient_id() -> None:
    """RX-07: a prior prescription recorded by name only is the same patient when the names match, whichever
    of the two prescriptions carries an id (detection must not depend on which one was entered first)."""
    assert rules_of(split_refusals(make_rx(), "", [prior(patient_id=CERT)])) == ["RX-07"]  # passes today
    assert rules_of(split_refusals(make_rx(), CERT, [prior(patient_id="")])) == ["RX-07"]  # fails today


@pytest.mark.refuses("RX-02")
def test_rx02_blank_dosage_form_is_missing() -> None:
    """RX-02: a dosage form of only spaces is missing, like a blank dose or diagnosis."""
    refusals = content_refusals(with_line(dosage_form="  "), waipei_seal_required=False)
    assert missing_of(refusals) == ["第1行剂型"]


def test_rx04_a_fitting_assignment_is_not_refused() -> None:
    """RX-04: two lines of one drug with 5 and 3 left can serve sale lines of 3 and 5 (one line each)."""
    plan, refusals = dispense_plan([sale(1, 10, 3), sale(2, 10, 5)], [left(100, 10, 5), left(101, 10, 3)])
    assert refusals == []
    assert plan == {1: 101, 2: 100}
