"""server.rules.controlled as pure functions: which changes of an item's controlled facts loosen control, and whose
approval lets one through (RX-01, CARD-07)."""

from __future__ import annotations

from datetime import date

import pytest

from catalog.classes import GspClass, InsuranceCategory
from catalog.gsp import ZONE_KIND_ADMITS, ZoneKind, zone_kind
from server.roles import Role
from server.rules.controlled import (
    Approver,
    ControlledFacts,
    approval_refusals,
    approvals_needed,
    class_loosens,
    mapping_loosens,
)
from server.rules.staff import StaffRecord

G, C = GspClass, InsuranceCategory
TODAY = date(2026, 12, 7)
STORE = "P44030000001"
QUALIFIED = StaffRecord("licensed_pharmacist", "ZY-1", STORE, date(2026, 1, 1), date(2028, 1, 1), date(2029, 1, 1))


@pytest.mark.parametrize(("before", "after", "loosens"), [
    (G.RX, G.HERBAL, True), (G.RX, G.OTC_A, True), (G.RX, G.FOOD, True), (G.OTC_A, G.OTC_B, True),
    (G.OTC_B, G.FOOD, True), (G.HERBAL, G.DAILY_CHEMICAL, True),
    (G.OTC_A, G.RX, False), (G.OTC_B, G.RX, False), (G.FOOD, G.OTC_B, False), (G.OTC_B, G.HERBAL, False),
    (G.HERBAL, G.OTC_B, False), (G.FOOD, G.DEVICE, False), (G.RX, G.RX, False),
])
def test_a_class_change_loosens_when_it_drops_an_obligation(before: GspClass, after: GspClass, loosens: bool) -> None:
    assert class_loosens(before, after) is loosens


def facts(cat: InsuranceCategory = C.NONE, code: str | None = None, c: GspClass = G.RX) -> ControlledFacts:
    return ControlledFacts(c, cat, code)


@pytest.mark.parametrize(("before", "after", "loosens"), [
    (facts(), facts(C.JIA, "X1"), True),  # mapped at all
    (facts(C.YI, "X1"), facts(C.YI, "X2"), True),  # a new code
    (facts(C.YI, "X1"), facts(C.JIA, "X1"), True),  # 乙 to 甲
    (facts(C.JIA, "X1"), facts(C.YI, "X1"), True),  # 甲 to 乙: 甲/乙 to another
    (facts(C.BING, "X1"), facts(C.YI, "X1"), True),
    (facts(C.JIA, "X1"), facts(C.NONE, None), False),  # taken off the card
    (facts(C.YI, "X1"), facts(C.BING, "X1"), False),
    (facts(C.NONE), facts(C.BING), False),
    (None, facts(), False), (None, facts(C.BING, "X1"), True),  # a new item's code is a new code
])
def test_a_mapping_change_loosens_when_the_card_may_pay_more_or_otherwise(
        before: ControlledFacts | None, after: ControlledFacts, loosens: bool) -> None:
    assert mapping_loosens(before, after) is loosens


@pytest.mark.refuses("RX-01", "CARD-07", "STAFF-01")
def test_an_approval_counts_only_from_another_person_of_the_right_post_with_a_reason() -> None:
    needed = approvals_needed(facts(C.YI, "X1"), facts(C.JIA, "X1", G.OTC_A))
    assert needed == {Role.PHARMACIST: "RX-01", Role.INSURANCE_ADMIN: "CARD-07"}
    both = Approver(2, "both", frozenset({Role.PHARMACIST, Role.INSURANCE_ADMIN}), QUALIFIED)
    assert approval_refusals(needed, 1, both, "转类", STORE, TODAY) == []
    assert [v.rule for v in approval_refusals(needed, 1, None, "", STORE, TODAY)] == ["RX-01"]
    assert [v.rule for v in approval_refusals(needed, 2, both, "转类", STORE, TODAY)] == ["RX-01"]  # oneself
    other_account = Approver(3, "both2", frozenset({Role.PHARMACIST, Role.INSURANCE_ADMIN}), QUALIFIED, True)
    assert [v.rule for v in approval_refusals(needed, 1, other_account, "转类", STORE, TODAY)] == ["RX-01"]  # ditto
    assert [v.rule for v in approval_refusals(needed, 1, both, " ", STORE, TODAY)] == ["RX-01"]  # no reason
    ph = Approver(2, "ph", frozenset({Role.PHARMACIST}), QUALIFIED)
    assert [v.rule for v in approval_refusals(needed, 1, ph, "转类", STORE, TODAY)] == ["CARD-07"]
    ended = Approver(2, "ph", frozenset({Role.PHARMACIST}), QUALIFIED)
    assert {v.rule for v in approval_refusals({Role.PHARMACIST: "RX-01"}, 1, ended, "转类", STORE,
                                              date(2028, 6, 1))} == {"STAFF-01"}
    assert approval_refusals({}, 1, None, "", STORE, TODAY) == []
    assert approvals_needed(facts(C.JIA, "X1", G.OTC_A), facts(C.JIA, "X1", G.RX)) == {}  # tightening


@pytest.mark.refuses("GSP-02")
def test_a_zone_admits_the_classes_of_one_display_area() -> None:
    assert zone_kind({G.RX}) is ZoneKind.RX
    assert zone_kind({G.OTC_A, G.OTC_B}) is ZoneKind.OTC
    assert zone_kind({G.COSMETIC, G.DAILY_CHEMICAL}) is ZoneKind.DAILY_CHEMICAL
    for admits in ({G.RX, G.HERBAL}, {G.RX, G.OTC_A}, {G.RX, G.FOOD}, {G.OTC_A, G.HERBAL}, set()):
        assert zone_kind(admits) is None, admits
    assert all(ZONE_KIND_ADMITS[k] == {G.RX} or G.RX not in ZONE_KIND_ADMITS[k] for k in ZoneKind)
    assert set().union(*ZONE_KIND_ADMITS.values()) == set(GspClass)  # every class has its area
