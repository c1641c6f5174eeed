"""Issue #17, prescriptions: each walk-around performed through the API and shown refused, on SQLite and PostgreSQL
(the `shop` fixture runs on both backends).

- RX-05: a 缺货 refusal that names no other designated pharmacy;
- RX-06: a typed days' supply (days=3 for forty days' capsules), and three drugs of one pharmacological class,
  the class set through the catalog API, its PATCH and the import;
- RX-07: a prescription a day past `rules.rx_validity_days`, accepted once the store's config says otherwise;
- RX-04 / RX-02: a paper prescription whose written drug is not the dispensed item's generic name, or carries none;
- the electronic prescription path: its prd_days is not taken, its written generic name is matched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from catalog.importer import COLUMN_BY_KEY
from server.config import Settings
from server.db.uow import core_unit
from server.services.context import Ctx
from tests.conftest import (
    BARCODE_AMOX,
    ROLE_PINS,
    Shop,
    make_settings,
    mapping_approval,
    pharmacist_on_duty,
    service_state,
    till_login,
)
from tests.server.test_prescriptions import electronic, enter, import_electronic, registry, review, rx_body
from tests.server.test_selling import new_sale, pay_cash, scan


def line(shop: Shop, **fields: Any) -> dict[str, Any]:
    return {"item_id": shop["items"]["amox"], "qty": 1, "dosage": "0.5g", "frequency": "qid", "route": "口服",
            "dosage_form": "胶囊", "drug_name": "阿莫西林胶囊"} | fields


def enter_lines(shop: Shop, lines: list[dict[str, Any]], **fields: Any) -> Any:
    body = rx_body(shop["items"]["amox"], shop["clock"].today, **fields) | {"lines": lines}
    return shop["client"].post("/prescriptions", json=body, headers=shop["cashier"])


# --- RX-05 ---------------------------------------------------------------------------------------------------

@pytest.mark.refuses("RX-05")
def test_rx05_an_out_of_stock_refusal_names_the_pharmacy_arranged(shop: Shop) -> None:
    pharmacist_on_duty(shop)
    rx = enter(shop).json()
    bare = review(shop, rx["id"], "rejected", reason="out_of_stock")  # "rejected", not "referred": no way round
    assert bare.status_code == 422 and bare.json()["code"] == "RX-05", bare.text
    assert "其他定点药店" in bare.json()["message_zh"]
    blank = review(shop, rx["id"], "rejected", reason="out_of_stock", referred_to="   ")
    assert blank.status_code == 422 and blank.json()["code"] == "RX-05"
    assert shop["client"].get(f"/prescriptions/{rx['id']}", headers=shop["cashier"]).json()["status"] == "pending"
    named = review(shop, rx["id"], "rejected", reason="out_of_stock", referred_to="丁点大药房科技园店")
    assert named.status_code == 200, named.text
    assert named.json()["status"] == "rejected"
    assert named.json()["reviews"][0]["referred_to"] == "丁点大药房科技园店"


def test_rx05_other_refusal_reasons_need_no_pharmacy(shop: Shop) -> None:
    pharmacist_on_duty(shop)
    rx = enter(shop).json()
    assert review(shop, rx["id"], "rejected", reason="dose", note="剂量疑义，请医师确认").status_code == 200


# --- RX-06: days' supply computed --------------------------------------------------------------------------------

@pytest.mark.refuses("RX-06")
def test_rx06_a_typed_days_supply_is_not_taken(shop: Shop) -> None:
    """days=3 sent for ten boxes of 24 capsules at 0.5 g (2 capsules) three times a day: forty days."""
    pharmacist_on_duty(shop)
    r = enter_lines(shop, [line(shop, qty=10, frequency="tid", days=3)])
    assert r.status_code == 201, r.text
    assert r.json()["lines"][0]["days"] == 40
    refused = review(shop, r.json()["id"])
    assert refused.status_code == 422 and refused.json()["code"] == "RX-06", refused.text
    assert refused.json()["details"] == {"item": "YP0001", "days": 40, "limit": 7}
    # The same drug written for what an acute course allows is approved: 48 capsules at 8 a day.
    ok = enter_lines(shop, [line(shop, qty=2, days=30)], rx_no="RX-OK", patient_name="李四")
    assert ok.json()["lines"][0]["days"] == 6
    assert review(shop, ok.json()["id"]).status_code == 200


@pytest.mark.refuses("RX-02")
@pytest.mark.parametrize(("field", "value", "named"), [
    ("frequency", "一天几次", "频次「一天几次」无法识别"), ("dosage", "适量", "无法按规格「0.25g*24粒」换算"),
])
def test_rx06_a_days_supply_that_cannot_be_computed_is_refused_not_guessed(
        shop: Shop, field: str, value: str, named: str) -> None:
    r = enter_lines(shop, [line(shop, **{field: value}, days=3)])
    assert r.status_code == 422 and r.json()["code"] == "RX-02", r.text
    assert named in r.json()["message_zh"]
    assert shop["client"].get("/prescriptions", headers=shop["manager"]).json() == []


def _import_class(shop: Shop, code: str, pharm_class: str) -> None:
    keys = ["code", "name", "gsp_class", "route", "approval_no", "price", "pharm_class"]
    buf = io.StringIO()
    csv.writer(buf).writerows([[COLUMN_BY_KEY[k].zh for k in keys],
                               [code, "阿莫西林胶囊", "处方药", "内服", "国药准字H1", "12.50", pharm_class]])
    r = shop["client"].post("/catalog/import", params={"format": "csv"}, content=buf.getvalue().encode("utf-8-sig"),
                            headers=shop["manager"] | {"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and r.json()["updated"] == 1, r.text


@pytest.mark.refuses("RX-06")
def test_rx06_three_drugs_of_one_class_are_refused(shop: Shop) -> None:
    """The class is a plain catalog attribute: set by the import (amoxicillin), by the API on creation (ampicillin)
    and by its PATCH (penicillin V); profile A allows two of one class (rules.md, RX-06)."""
    c, m = shop["client"], shop["manager"]
    _import_class(shop, "YP0001", "青霉素类")
    made = {}
    for code, name, spec, klass in (("YP0101", "氨苄西林胶囊", "0.25g*24粒", "青霉素类"),
                                    ("YP0102", "青霉素V钾片", "0.25g*12片", "")):
        r = c.post("/items", json={"code": code, "name": name, "generic_name": name, "spec": spec,
                                   "approval_no": "国药准字H9", "gsp_class": "rx", "route": "internal",
                                   "price_fen": 900, "pharm_class": klass, "zone_code": "Z-RX"}, headers=m)
        assert r.status_code == 201, r.text
        assert r.json()["pharm_class"] == klass
        made[code] = r.json()["id"]
    patched = c.patch(f"/items/{made['YP0102']}", json={"pharm_class": "青霉素类"}, headers=m)
    assert patched.status_code == 200 and patched.json()["pharm_class"] == "青霉素类"
    assert c.get(f"/items/{shop['items']['amox']}", headers=m).json()["pharm_class"] == "青霉素类"
    pharmacist_on_duty(shop)
    amp = line(shop, item_id=made["YP0101"], drug_name="氨苄西林胶囊")
    two = enter_lines(shop, [line(shop), amp], rx_no="RX-TWO", patient_name="李四")
    assert two.status_code == 201 and review(shop, two.json()["id"]).status_code == 200
    pen = line(shop, item_id=made["YP0102"], drug_name="青霉素V钾片", dosage="1片", dosage_form="片剂")
    three = enter_lines(shop, [line(shop), amp, pen], rx_no="RX-THREE")
    assert three.status_code == 201, three.text
    refused = review(shop, three.json()["id"])
    assert refused.status_code == 422 and refused.json()["code"] == "RX-06", refused.text
    assert refused.json()["details"]["pharm_class"] == "青霉素类"
    assert refused.json()["details"]["drugs"] == ["阿莫西林胶囊", "氨苄西林胶囊", "青霉素V钾片"]


# --- RX-07: rules.rx_validity_days is read ---------------------------------------------------------------------

@pytest.fixture
def restarted(shop: Shop) -> Iterator[Any]:
    """The same store's service started again with another config.toml `[rules]` (as the owner would)."""
    from server.app import create_app

    clients: list[TestClient] = []

    def start(**rules: Any) -> Shop:
        base: Settings = service_state(shop["client"]).settings
        settings = make_settings(base.database.url, rules=rules)
        assert settings.rules.rx_validity_days == rules.get("rx_validity_days", settings.rules.rx_validity_days)
        assert settings.rules.retention_years == base.rules.retention_years  # the rest of [rules] as it was
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return shop | {"client": client, "cashier": till_login(client, "u_cashier", ROLE_PINS["cashier"]),
                       "pharmacist": till_login(client, "u_pharmacist", ROLE_PINS["pharmacist"])}

    yield start
    for client in clients:
        client.__exit__(None, None, None)
        service_state(client).engine.dispose()


@pytest.mark.refuses("RX-07")
@pytest.mark.business_day
def test_rx07_a_prescription_a_day_past_the_stores_validity_is_refused_until_the_config_says_otherwise(
        shop: Shop, restarted: Any) -> None:
    today = shop["clock"].today
    yesterday, two_days = (today - timedelta(days=1)).isoformat(), (today - timedelta(days=2)).isoformat()
    stale = enter(shop, rx_no="RX-Y1", issued_on=yesterday)  # config.toml: rx_validity_days = 1
    assert stale.status_code == 422 and stale.json()["code"] == "RX-07" and "已过期" in stale.json()["message_zh"]
    longer = restarted(rx_validity_days=2)
    ok = enter(longer, rx_no="RX-Y2", issued_on=yesterday)
    assert ok.status_code == 201, ok.text
    assert ok.json()["valid_days"] == 0  # the prescriber wrote none: the store's rule holds
    past = enter(longer, rx_no="RX-Y3", issued_on=two_days, patient_name="李四")
    assert past.status_code == 422 and past.json()["code"] == "RX-07"
    pharmacist_on_duty(longer)
    assert review(longer, ok.json()["id"]).status_code == 200  # the review reads the same rule
    # Back to one day: what was entered under two is expired at the review and at the till (RX-07 at completion).
    again = restarted(rx_validity_days=1)
    late = enter(longer, rx_no="RX-Y4", issued_on=yesterday, patient_name="王五")
    assert late.status_code == 201
    assert review(again, late.json()["id"]).json()["code"] == "RX-07"
    c, h = again["client"], again["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 2)
    assert c.post(f"/sales/{sid}/prescription", json={"prescription_id": ok.json()["id"]}, headers=h).status_code == 200
    paid = pay_cash(c, h, sid, 2500, 2500)
    assert paid.status_code == 422 and paid.json()["code"] == "RX-07", paid.text


# --- RX-04 / RX-02: the written name against the dispensed item -------------------------------------------------

@pytest.mark.refuses("RX-04", "RX-02")
def test_rx04_a_dispensed_item_that_is_not_the_written_drug_is_flagged_and_refused(shop: Shop) -> None:
    pharmacist_on_duty(shop)
    blank = enter_lines(shop, [line(shop, drug_name="")], rx_no="RX-BLANK")
    assert blank.status_code == 422 and blank.json()["code"] == "RX-02" and "第1行药品名称" in blank.json()["message_zh"]
    other = enter_lines(shop, [line(shop, drug_name="头孢氨苄胶囊")], rx_no="RX-SUB")
    assert other.status_code == 201, other.text  # kept as written, so the pharmacist sees both
    shown = other.json()["lines"][0]
    assert (shown["drug_name"], shown["generic_name"], shown["name_matches"]) == ("头孢氨苄胶囊", "阿莫西林胶囊", False)
    refused = review(shop, other.json()["id"])
    assert refused.status_code == 422 and refused.json()["code"] == "RX-04", refused.text
    assert refused.json()["details"]["written"] == "头孢氨苄胶囊"
    assert review(shop, other.json()["id"], "rejected", reason="compatibility",
                  note="处方药名与调配药品不符").status_code == 200
    same = enter_lines(shop, [line(shop, drug_name="阿莫西林　胶囊")], rx_no="RX-SAME", patient_name="李四")
    assert same.json()["lines"][0]["name_matches"] is True  # a full-width space is no other drug
    assert review(shop, same.json()["id"]).status_code == 200


@pytest.mark.refuses("RX-04")
def test_rx04_a_generic_name_changed_after_the_review_is_refused_at_the_till(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    from server.services.catalog import items as catalog_service

    pharmacist_on_duty(shop)
    rx = enter_lines(shop, [line(shop)])
    assert review(shop, rx.json()["id"]).status_code == 200
    with core_unit(engine) as u:  # the catalog now says the item is another drug
        catalog_service.update_item(u, ctx, shop["items"]["amox"], {"generic_name": "头孢氨苄胶囊"})
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 1)
    assert c.post(f"/sales/{sid}/prescription", json={"prescription_id": rx.json()["id"]}, headers=h).status_code == 200
    paid = pay_cash(c, h, sid, 1250, 1250)
    assert paid.status_code == 422 and paid.json()["code"] == "RX-04", paid.text


# --- the electronic path ---------------------------------------------------------------------------------------

@pytest.mark.refuses("RX-06", "RX-04", "RX-02")
def test_an_electronic_prescriptions_days_and_drug_name_are_checked_as_a_paper_ones(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    from server.services.catalog import items as catalog_service

    code = "XJ01CAA000A000000009001"
    approval = mapping_approval(engine, ctx)  # the other 医保 administrator's, checked in a unit of its own
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, shop["items"]["amox"], {"nhsa_code": code, "insurance_category": "yi"},
                                    approval)
    c, today = shop["client"], shop["clock"].today
    registry(c, shop["manager"])
    pharmacist_on_duty(shop)
    drug = electronic(today)["rxdrugdetail"][0]

    sent: list[str] = []

    def send(rxno: str, **over: Any) -> Any:  # each for another patient: no split (RX-07) among them
        sent.append(rxno)
        return import_electronic(shop, electronic(today, hi_rxno=rxno, patn_name=f"患者{len(sent)}",
                                                  certno=f"11010119900307{len(sent):04d}", rxdrugdetail=[drug | over]))

    long = send("E-LONG", drug_cnt="10", prd_days="3")
    assert long.status_code == 201 and long.json()["lines"][0]["days"] == 40
    assert review(shop, long.json()["id"]).json()["code"] == "RX-06"
    split_unit = send("E-UNIT", drug_cnt="1", sin_doscnt="2", sin_dosunt="粒", used_frquname="每日三次", prd_days="9")
    assert split_unit.status_code == 201, split_unit.text
    assert split_unit.json()["lines"][0]["days"] == 4
    assert review(shop, split_unit.json()["id"]).status_code == 200
    unknown = send("E-FREQ", used_frquname="遵医嘱")
    assert unknown.status_code == 422 and unknown.json()["code"] == "RX-02"
    other = send("E-NAME", drug_genname="头孢氨苄胶囊", drug_cnt="1")
    assert other.status_code == 201 and other.json()["lines"][0]["name_matches"] is False
    assert review(shop, other.json()["id"]).json()["code"] == "RX-04"
