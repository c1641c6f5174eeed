"""GSP-01/02/03/07: which zone may hold which item, and which zone definitions are refused."""

from __future__ import annotations

import pytest

from catalog.classes import GspClass, Route, Storage, ZonePurpose
from catalog.gsp import ItemSpec, ZoneSpec, check_placement, check_zone, zones_admitting

RX_IN = ZoneSpec("Z-RX-IN", "处方药区(内服)", frozenset({GspClass.RX}), "internal", Storage.NORMAL)
OTC_EX = ZoneSpec("Z-OTC-EX", "非处方药区(外用)", frozenset({GspClass.OTC_A, GspClass.OTC_B}), "external", Storage.NORMAL)
ODOUR = ZoneSpec("Z-ODOUR", "易串味区", frozenset({GspClass.OTC_A, GspClass.OTC_B}), "external", Storage.NORMAL,
                 odour_prone=True)
COLD = ZoneSpec("Z-COLD", "冷藏柜", frozenset({GspClass.RX}), "internal", Storage.COLD)
FOOD = ZoneSpec("Z-FOOD", "普通食品区", frozenset({GspClass.FOOD}), "none", Storage.NORMAL)
QA = ZoneSpec("Z-QA", "待验区", frozenset(GspClass), "none", Storage.NORMAL, purpose=ZonePurpose.QUARANTINE)

AMOXICILLIN = ItemSpec("YP1", "阿莫西林胶囊", GspClass.RX, Route.INTERNAL, Storage.NORMAL)
INSULIN = ItemSpec("YP2", "重组人胰岛素注射液", GspClass.RX, Route.INJECTION, Storage.COLD)
ERYTHROMYCIN = ItemSpec("YP3", "红霉素软膏", GspClass.OTC_A, Route.EXTERNAL, Storage.NORMAL)
FENGYOUJING = ItemSpec("YP4", "风油精", GspClass.OTC_B, Route.EXTERNAL, Storage.NORMAL, odour_prone=True)
BISCUIT = ItemSpec("FY1", "无糖饼干", GspClass.FOOD, Route.OTHER, Storage.NORMAL)


def rules(item: ItemSpec, zone: ZoneSpec) -> set[str]:
    return {v.rule for v in check_placement(item, zone)}


def test_items_go_where_they_belong() -> None:
    assert rules(AMOXICILLIN, RX_IN) == set()
    assert rules(INSULIN, COLD) == set()
    assert rules(ERYTHROMYCIN, OTC_EX) == set()
    assert rules(FENGYOUJING, ODOUR) == set()
    assert rules(BISCUIT, FOOD) == set()


@pytest.mark.refuses("GSP-02")
def test_gsp02_a_zone_refuses_a_class_it_does_not_admit() -> None:
    violations = check_placement(BISCUIT, RX_IN)
    assert [v.rule for v in violations] == ["GSP-02"]
    assert "普通食品" in violations[0].message_zh and "does not admit" in violations[0].message_en
    assert rules(AMOXICILLIN, FOOD) == {"GSP-02"}


@pytest.mark.refuses("GSP-01")
def test_gsp01_external_and_internal_drugs_never_share_a_zone() -> None:
    external_rx = ItemSpec("YP5", "莫匹罗星软膏", GspClass.RX, Route.EXTERNAL, Storage.NORMAL)
    assert rules(external_rx, RX_IN) == {"GSP-01"}
    internal_otc = ItemSpec("YP6", "维C银翘片", GspClass.OTC_A, Route.INTERNAL, Storage.NORMAL)
    assert rules(internal_otc, OTC_EX) == {"GSP-01"}


@pytest.mark.refuses("GSP-03")
def test_gsp03_odour_prone_drugs_only_in_their_own_zone_and_nothing_else_there() -> None:
    assert rules(FENGYOUJING, OTC_EX) == {"GSP-03"}
    assert rules(ERYTHROMYCIN, ODOUR) == {"GSP-03"}


@pytest.mark.refuses("GSP-07")
def test_gsp07_storage_condition_must_match() -> None:
    assert rules(INSULIN, RX_IN) == {"GSP-07"}
    assert rules(AMOXICILLIN, COLD) == {"GSP-07"}


@pytest.mark.refuses("GSP-02")
def test_nothing_is_displayed_from_quarantine() -> None:
    assert check_zone(QA) == []
    assert rules(AMOXICILLIN, QA) == {"GSP-02"}  # not a display zone


@pytest.mark.refuses("GSP-01", "GSP-02")
@pytest.mark.parametrize(("zone", "rule"), [
    (ZoneSpec("Z1", "混放区", frozenset({GspClass.RX, GspClass.FOOD}), "internal", Storage.NORMAL), "GSP-01"),
    (ZoneSpec("Z2", "药品区", frozenset({GspClass.RX}), "none", Storage.NORMAL), "GSP-01"),
    (ZoneSpec("Z3", "食品区", frozenset({GspClass.FOOD}), "internal", Storage.NORMAL), "GSP-01"),
    (ZoneSpec("Z4", "处方与非处方", frozenset({GspClass.RX, GspClass.OTC_A}), "internal", Storage.NORMAL), "GSP-02"),
    (ZoneSpec("Z5", "空区", frozenset(), "internal", Storage.NORMAL), "GSP-02"),
])
def test_zone_definitions_that_mix_what_gsp_keeps_apart_are_refused(zone: ZoneSpec, rule: str) -> None:
    assert rule in {v.rule for v in check_zone(zone)}


def test_zones_admitting_suggests_only_valid_zones() -> None:
    zones = [RX_IN, OTC_EX, ODOUR, COLD, FOOD, QA]
    assert [z.code for z in zones_admitting(INSULIN, zones)] == ["Z-COLD"]
    assert [z.code for z in zones_admitting(FENGYOUJING, zones)] == ["Z-ODOUR"]
