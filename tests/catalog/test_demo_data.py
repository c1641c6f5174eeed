"""The demo data obeys the rules it will be used to demonstrate (GSP, CARD-02/07, STAFF, codes)."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, timedelta

import pytest

from catalog.classes import DRUG_CLASSES, GspClass, InsuranceCategory, ZonePurpose
from catalog.codes import check_gtin, check_nhsa_code, id_check_char, org_code_check_char, uscc_check_char
from catalog.demo_data import (
    DemoBatch,
    DemoItem,
    DemoSupplier,
    DemoUser,
    bulk_items,
    default_zones,
    demo_batches,
    demo_items,
    demo_suppliers,
    demo_users,
)
from catalog.gsp import check_placement, check_zone
from catalog.items import ItemFacts, check_item
from server.db.models.people import Qualification
from server.roles import Role
from tests.conftest import Clock

DAY = date(2026, 11, 22)  # any day: the same seed gives the same data
STORE = "H44010600123"
SEED = 7


@pytest.fixture(scope="module")
def items() -> list[DemoItem]:
    return demo_items()


@pytest.fixture
def suppliers(clock: Clock) -> list[DemoSupplier]:
    """As the demo loader makes them: relative to the store's today (server/demo.py passes Ctx.today)."""
    return demo_suppliers(SEED, clock.today)


@pytest.fixture
def batches(items: list[DemoItem], suppliers: list[DemoSupplier], clock: Clock) -> list[DemoBatch]:
    return demo_batches(items, suppliers, SEED, clock.today)


# --- determinism -------------------------------------------------------------------------------------

def test_same_seed_same_data_and_other_seed_other_data(items: list[DemoItem]) -> None:
    assert demo_items() == items
    assert demo_items(seed=1) != items
    assert demo_suppliers(SEED, DAY) == demo_suppliers(SEED, DAY)
    assert demo_suppliers(SEED, DAY) != demo_suppliers(SEED + 1, DAY)
    sups = demo_suppliers(SEED, DAY)
    assert demo_batches(items, sups, SEED, DAY) == demo_batches(items, sups, SEED, DAY)
    assert demo_batches(items, sups, SEED, DAY) != demo_batches(items, sups, SEED + 1, DAY)
    assert demo_users(STORE, DAY) == demo_users(STORE, DAY)
    assert list(bulk_items(500, seed=3)) == list(bulk_items(500, seed=3))
    assert list(bulk_items(500, seed=3)) != list(bulk_items(500, seed=4))


# --- zones -------------------------------------------------------------------------------------------

def test_every_default_zone_is_valid_and_the_layout_is_complete() -> None:
    zones = default_zones()
    for z in zones:
        assert check_zone(z) == [], z.code
    assert len({z.code for z in zones}) == len(zones)
    purposes = Counter(z.purpose for z in zones)
    assert purposes[ZonePurpose.QUARANTINE] == 2 and purposes[ZonePurpose.STORAGE] == 1
    names = {z.name for z in zones}
    for needed in ("处方药区(内服)", "处方药区(外用)", "非处方药区(内服)", "非处方药区(外用)", "中药饮片区",
                   "拆零专柜", "保健食品区", "普通食品区", "日化用品区", "医疗器械区", "待验区", "不合格品区",
                   "仓库"):
        assert needed in names
    assert any(z.odour_prone for z in zones)
    assert {z.storage.value for z in zones} == {"normal", "cool", "cold"}


def test_every_item_stands_in_a_zone_that_admits_it(items: list[DemoItem]) -> None:
    zones = {z.code: z for z in default_zones()}
    for item in items:
        assert check_placement(item.gsp_spec(), zones[item.zone_code]) == [], item


def test_every_display_zone_is_used(items: list[DemoItem]) -> None:
    display = {z.code for z in default_zones() if z.purpose is ZonePurpose.DISPLAY}
    assert display == {i.zone_code for i in items}


# --- items -------------------------------------------------------------------------------------------

def test_enough_items_of_every_class(items: list[DemoItem]) -> None:
    assert len(items) >= 300
    assert set(GspClass) == {i.gsp_class for i in items}
    assert len({i.code for i in items}) == len(items)
    for i in items:
        assert re.fullmatch(r"(YP|FY)\d{6}", i.code)
        assert i.code.startswith("YP") == (i.gsp_class in DRUG_CLASSES)
    names = {i.name for i in items}
    for expected in ("阿莫西林胶囊", "重组人胰岛素注射液", "红霉素软膏", "风油精", "当归", "医用外科口罩"):
        assert expected in names


def test_items_pass_the_catalog_record_rules(items: list[DemoItem]) -> None:
    for i in items:
        facts = ItemFacts(i.code, i.gsp_class, i.route, i.approval_no, i.nhsa_code, i.insurance_category,
                          i.price_fen, i.split_unit, i.split_ratio, i.split_price_fen)
        assert check_item(facts) == [], i


def test_barcodes_are_valid_unique_gtin13_with_prefix_69(items: list[DemoItem]) -> None:
    codes = [c for i in items for c in i.barcodes]
    assert all(i.barcodes for i in items)
    assert len(codes) == len(set(codes))
    for c in codes:
        assert len(c) == 13 and c.startswith("69") and check_gtin(c) == [], c
    assert any(len(i.barcodes) == 2 for i in items)


def test_insurance_codes_follow_the_category(items: list[DemoItem]) -> None:
    for i in items:
        if i.gsp_class not in DRUG_CLASSES:  # CARD-02: non-drugs are never on the list
            assert i.insurance_category is InsuranceCategory.NONE and i.nhsa_code is None, i
        if i.insurance_category in (InsuranceCategory.JIA, InsuranceCategory.YI):
            assert i.nhsa_code is not None and len(i.nhsa_code) == 23, i
            assert check_nhsa_code(i.nhsa_code) == []
            # 医保 code category: T 中药饮片, Z 中成药 (国药准字Z), X 西药 (化药 H and 生物制品 S).
            prefix = "T" if i.gsp_class is GspClass.HERBAL else "Z" if "准字Z" in i.approval_no else "X"
            assert i.nhsa_code[0] == prefix, i
    drug_categories = Counter(i.insurance_category for i in items if i.gsp_class in DRUG_CLASSES)
    assert all(drug_categories[c] > 0 for c in InsuranceCategory)


def test_approval_numbers_look_real(items: list[DemoItem]) -> None:
    for i in items:
        if i.gsp_class in (GspClass.RX, GspClass.OTC_A, GspClass.OTC_B):
            assert re.fullmatch(r"国药准字[HZS]\d{8}", i.approval_no), i
        elif i.gsp_class is GspClass.HEALTH_FOOD:
            assert re.fullmatch(r"国食健注G\d{8}", i.approval_no), i
        elif i.gsp_class is GspClass.DEVICE:
            assert "械" in i.approval_no, i
    assert any("准字S" in i.approval_no for i in items)


def test_split_rules_are_consistent(items: list[DemoItem]) -> None:
    eligible = split = 0
    for i in items:
        if i.split_unit is None:
            assert i.split_ratio == 1 and i.split_price_fen is None, i
            continue
        assert i.gsp_class in (GspClass.RX, GspClass.OTC_A, GspClass.OTC_B)
        assert i.split_unit in ("片", "粒")
        assert i.split_ratio > 1
        assert i.split_price_fen == math.ceil(i.price_fen / i.split_ratio)
    for i in items:
        if i.gsp_class in (GspClass.RX, GspClass.OTC_A, GspClass.OTC_B) and (
                "片" in i.dosage_form or "胶囊" in i.dosage_form) and re.search(r"\*\d+[片粒]$", i.spec):
            eligible += 1
            split += i.split_unit is not None
    assert 0.1 <= split / eligible <= 0.35  # "about 20 %"
    assert any(i.zone_code == "Z-SPLIT" for i in items if i.split_unit)


def test_prices_and_tracing_are_plausible(items: list[DemoItem]) -> None:
    for i in items:
        assert i.price_fen > 0
        if i.unit == "g":
            assert i.gsp_class is GspClass.HERBAL and i.price_fen < 500  # per gram
        if i.gsp_class not in DRUG_CLASSES:
            assert not i.traced
    drugs = [i for i in items if i.gsp_class in DRUG_CLASSES]
    assert sum(i.traced for i in drugs) > len(drugs) / 2
    assert all(i.mnemonic == "" or i.mnemonic.isascii() for i in items)


# --- suppliers and batches ---------------------------------------------------------------------------

@pytest.mark.business_day
def test_suppliers_include_an_expired_and_an_expiring_licence(suppliers: list[DemoSupplier], clock: Clock) -> None:
    today = clock.today
    assert 5 <= len(suppliers) <= 8
    assert len({s.name for s in suppliers}) == len(suppliers)
    assert sum(s.licence_expiry < today for s in suppliers) == 1
    assert sum(today <= s.licence_expiry <= today + timedelta(days=30) for s in suppliers) == 1
    for s in suppliers:
        assert re.fullmatch(r"粤AA\d{7}", s.licence_no), s
        assert len(s.business_licence_no) == 18
        assert uscc_check_char(s.business_licence_no[:17]) == s.business_licence_no[17]
        assert org_code_check_char(s.business_licence_no[8:16]) == s.business_licence_no[16]


@pytest.mark.business_day
def test_batches_come_from_licensed_suppliers_and_cover_expiry_cases(
        items: list[DemoItem], suppliers: list[DemoSupplier], batches: list[DemoBatch], clock: Clock) -> None:
    today = clock.today
    by_code = {i.code: i for i in items}
    licence = {s.name: s.licence_expiry for s in suppliers}
    per_item = Counter(b.item_code for b in batches)
    assert set(per_item) == set(by_code) and set(per_item.values()) <= {1, 2, 3}
    assert len({b.batch_no for b in batches}) == len(batches)
    for b in batches:
        item = by_code[b.item_code]
        assert re.fullmatch(rf"B{b.received_on:%y%m%d}\d{{4}}", b.batch_no)
        assert b.manufactured_on <= b.received_on <= today < b.expires_on + timedelta(days=400)
        assert b.manufactured_on < b.expires_on
        # GSP-05: the supplier's licence was valid on the day of receipt (and so at manufacture).
        assert licence[b.supplier_name] >= b.received_on >= b.manufactured_on
        assert 0 <= b.cost_fen < item.price_fen
        assert b.qty > 0 and b.qty % item.split_ratio == 0
        assert b.zone_code == item.zone_code
        assert b.lot_no
    expired = [b for b in batches if b.expires_on < today]
    near = [b for b in batches if today <= b.expires_on < today + timedelta(days=90)]
    assert 0.01 * len(batches) <= len(expired) <= 0.07 * len(batches)
    assert 0.02 * len(batches) <= len(near) <= 0.10 * len(batches)
    long_dated = [b for b in batches if b.expires_on >= today + timedelta(days=365)]
    assert len(long_dated) > len(batches) / 2
    lapsed = next(s for s in suppliers if s.licence_expiry < today)
    assert all(b.received_on <= lapsed.licence_expiry for b in batches if b.supplier_name == lapsed.name)


# --- staff -------------------------------------------------------------------------------------------

@pytest.mark.business_day
def test_users_cover_every_post_with_valid_staff_records(clock: Clock) -> None:
    today = clock.today
    users = demo_users(STORE, today)
    assert {r for u in users for r in u.roles} == {r.value for r in Role}
    assert len({u.username for u in users}) == len(users)
    qualifications = {q.value for q in Qualification}
    for u in users:
        assert re.fullmatch(r"\d{4,6}", u.pin)
        assert u.username.isascii() and len(u.username) <= 30
        assert len(u.id_number) == 18 and id_check_char(u.id_number[:17]) == u.id_number[17]
        assert u.qualification in qualifications
        if "sysadmin" in u.roles:
            assert u.roles == ("sysadmin",)  # SEC-02
    by_name = {u.username: u for u in users}
    assert {by_name[n].pin for n in ("cashier1", "cashier2", "pharm1", "ins1", "ins2", "manager1", "admin1")} == {
        "1111", "1112", "2222", "3333", "3334", "4444", "9999"}
    assert len([u for u in users if u.roles == ("cashier",)]) == 2  # a change of hands at one till (Ctrl+S)

    def in_term(u: DemoUser) -> bool:  # a contract of at least a year, running today
        start, end = u.contract_start, u.contract_end
        return start is not None and end is not None and start <= today <= end and (end - start).days >= 364

    pharm = by_name["pharm1"]  # STAFF-01
    assert pharm.qualification == Qualification.LICENSED_PHARMACIST.value and pharm.qualification_no
    assert pharm.registered_store_code == STORE and in_term(pharm)
    ended = by_name["pharm2"]
    assert "pharmacist" in ended.roles and ended.contract_end is not None and ended.contract_end < today
    admins = [u for u in users if "insurance_admin" in u.roles]  # STAFF-02
    assert len(admins) >= 2 and all(in_term(u) for u in admins)


# --- bulk --------------------------------------------------------------------------------------------

def test_bulk_items_are_distinct_and_valid(items: list[DemoItem]) -> None:
    bulk = list(bulk_items(100_000))
    assert len(bulk) == 100_000
    assert len({b.code for b in bulk}) == 100_000
    barcodes = {c for b in bulk for c in b.barcodes}
    assert len(barcodes) == 100_000
    assert not barcodes & {c for i in items for c in i.barcodes}  # loadable beside the demo items
    assert len({(b.name, b.spec, b.manufacturer) for b in bulk}) == 100_000
    zones = {z.code: z for z in default_zones()}
    for b in bulk[::97]:
        assert check_gtin(b.barcodes[0]) == [] and b.barcodes[0].startswith("69")
        assert check_placement(b.gsp_spec(), zones[b.zone_code]) == []
        if b.insurance_category in (InsuranceCategory.JIA, InsuranceCategory.YI):
            assert b.nhsa_code is not None and len(b.nhsa_code) == 23
        if b.gsp_class not in DRUG_CLASSES:
            assert b.nhsa_code is None
    assert {b.gsp_class for b in bulk} == set(GspClass)
