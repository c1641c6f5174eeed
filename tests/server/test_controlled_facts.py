"""An item's class, 医保 category and national code are controlled facts (RX-01, CARD-07, GSP-02, issue #17): the
walk-arounds that laundered a prescription drug, each refused where it should be, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from catalog.importer import COLUMN_BY_KEY
from server.db.models import Item
from server.db.models.base import id_of
from server.db.uow import core_unit, orm, read_session
from server.roles import Role
from server.services.context import Ctx
from server.services.store.users import add_user, find_user, freeze_user, set_staff_profile
from tests.conftest import (
    BARCODE_AMOX,
    CONFIRM_MAPPING,
    DUTY_PHARMACIST,
    ROLE_PINS,
    SECOND_INSURANCE_ADMIN,
    Shop,
    by_second_admin,
    login,
    mapping_approval,
    qualify_pharmacist,
    second,
    second_asked,
)
from tests.server.test_selling import new_sale, pay_cash, scan

NHSA_AMOX = "XJ01CAA000A000000009001"
NHSA_VITC = "XA11GAA001A001010100001"


def by_pharmacist(c: Any, h: dict[str, str], item_id: int | str = "") -> dict[str, str]:
    """The duty pharmacist confirms at the caller's desk (RX-01): the caller's headers with their grant."""
    return second(c, h, DUTY_PHARMACIST, ROLE_PINS["pharmacist"], "catalog.write", str(item_id))


def by_admin2(c: Any, h: dict[str, str], item_id: int | str = "") -> dict[str, str]:
    """The other 医保 administrator confirms a mapping (CARD-07)."""
    return by_second_admin(c, h, "mapping.write", str(item_id))


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert (r.status_code, r.json().get("code")) == (status, code), r.text
    body: dict[str, Any] = r.json()
    return body


def item(shop: Shop, key: str) -> dict[str, Any]:
    r = shop["client"].get(f"/items/{shop['items'][key]}", headers=shop["manager"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def uploaded_on(engine: Engine, item_id: int) -> Any:
    with read_session(engine) as s:
        item = s.get(Item, item_id)
        assert item is not None
        return item.mapping_uploaded_on


def audit_entries(shop: Shop, action: str) -> list[dict[str, Any]]:
    r = shop["client"].get("/audit", params={"limit": 500}, headers=shop["manager"])
    assert r.status_code == 200, r.text
    return [e for e in r.json() if e["action"] == action]


def pharmacist(engine: Engine, ctx: Ctx, username: str, roles: set[Role], pin: str = "6666") -> None:
    """A pharmacist qualified under STAFF-01, holding these posts."""
    with core_unit(engine) as u:
        user = add_user(u, ctx, username, username, pin, roles)
        set_staff_profile(u, ctx, id_of(user), {
            "qualification": "licensed_pharmacist", "qualification_no": f"ZY-{username}",
            "qualification_expiry": ctx.today + timedelta(days=900),
            "registered_store_code": ctx.settings.store.fixmedins_code,
            "contract_start": ctx.today - timedelta(days=30), "contract_end": ctx.today + timedelta(days=900)})


def map_items(shop: Shop, engine: Engine, ctx: Ctx) -> dict[str, str]:
    """Amoxicillin mapped 乙 with its code, the mapping uploaded today: the card would pay it with a 外配处方."""
    c = shop["client"]
    mapping_approval(engine, ctx)
    ins = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
    r = c.patch(f"/items/{shop['items']['amox']}/mapping", json={"nhsa_code": NHSA_AMOX, "insurance_category": "yi"}
                | CONFIRM_MAPPING, headers=by_admin2(c, ins, shop["items"]["amox"]))
    assert r.status_code == 200, r.text
    r = c.post("/items/mapping-uploaded", json={"item_ids": [shop["items"]["amox"]]} | CONFIRM_MAPPING,
               headers=by_admin2(c, ins))
    assert r.status_code == 200, r.text
    assert uploaded_on(engine, shop["items"]["amox"]) == ctx.today
    return ins


# --- the laundering chain of the issue, refused at each step ---------------------------------------------------------

@pytest.mark.refuses("RX-01", "GSP-02")
def test_a_manager_alone_cannot_launder_a_prescription_drug(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, m, amox = shop["client"], shop["manager"], shop["items"]["amox"]
    # 1. a zone admitting 处方药 with 中药饮片: refused (GSP-02: a prescription drug stands with nothing else)
    mixed = c.post("/zones", json={"code": "Z-RXH", "name": "处方药与饮片", "admits": ["rx", "herbal"],
                                   "route_group": "internal"}, headers=m)
    assert error(mixed, 422, "GSP-02")["details"]["admits"] == ["herbal", "rx"]
    assert "处方药" in mixed.json()["message_zh"]
    # 2. moving the Rx drug into a lawful 中药饮片 zone: refused (the zone does not admit it)
    herb = c.post("/zones", json={"code": "Z-HERB", "name": "中药饮片区", "admits": ["herbal"],
                                  "route_group": "internal"}, headers=m)
    assert herb.status_code == 201, herb.text
    error(c.put(f"/items/{amox}/zone", json={"zone_code": "Z-HERB"}, headers=m), 422, "GSP-02")
    # 3. its class changed to 中药饮片 by the manager alone, with or without a reason, or naming themselves
    for extra, h in (({}, m), ({"reason": "饮片"}, m),
                     ({"reason": "饮片"}, second(c, m, "u_manager", ROLE_PINS["manager"], "catalog.write", str(amox)))):
        error(c.patch(f"/items/{amox}", json={"gsp_class": "herbal", "zone_code": "Z-HERB"} | extra, headers=h),
              403, "RX-01")
    # ... or naming a cashier as the second person (not a pharmacist)
    body = error(c.patch(f"/items/{amox}", json={"gsp_class": "herbal", "zone_code": "Z-HERB", "reason": "饮片"},
                         headers=second(c, m, "u_cashier", ROLE_PINS["cashier"], "catalog.write", str(amox))),
                 403, "RX-01")
    assert body["details"]["needs"] == "pharmacist"
    after = item(shop, "amox")
    assert (after["gsp_class"], after["zone_code"]) == ("rx", "Z-RX")
    assert audit_entries(shop, "item.class") == []
    # 4. so it is still sold only against a prescription, cash or not
    h = shop["cashier"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_AMOX)
    assert line.status_code == 201, line.text
    error(pay_cash(c, h, sid, line.json()["total_fen"], 2000), 422, "RX-01")


@pytest.mark.refuses("RX-01", "STAFF-01")
def test_a_pharmacist_who_requests_a_class_change_cannot_approve_it(shop: Shop, engine: Engine,
                                                                    ctx: Ctx) -> None:
    c, amox = shop["client"], shop["items"]["amox"]
    pharmacist(engine, ctx, "u_mgr_ph", {Role.MANAGER, Role.PHARMACIST})
    both = login(c, "u_mgr_ph", "6666")
    change = {"gsp_class": "otc_a", "zone_code": "Z-OTC", "reason": "国家药监局转为甲类非处方药"}
    body = error(c.patch(f"/items/{amox}", json=change,
                         headers=second(c, both, "u_mgr_ph", "6666", "catalog.write", str(amox))), 403, "RX-01")
    assert "申请人不能核准" in body["message_zh"] and "cannot approve their own" in body["message_en"]
    # a pharmacist whose sign-off does not count under STAFF-01 (no qualification on record) cannot approve either
    unqualified = second(c, both, "u_pharmacist", ROLE_PINS["pharmacist"], "catalog.write", str(amox))
    error(c.patch(f"/items/{amox}", json=change, headers=unqualified), 403, "STAFF-01")
    assert item(shop, "amox")["gsp_class"] == "rx"
    # another pharmacist, qualified: the change goes through, audited with the approver and the reason
    qualify_pharmacist(engine, ctx)
    ok = c.patch(f"/items/{amox}", json=change,
                 headers=second(c, both, "u_pharmacist", ROLE_PINS["pharmacist"], "catalog.write", str(amox)))
    assert ok.status_code == 200, ok.text
    assert (ok.json()["gsp_class"], ok.json()["zone_code"]) == ("otc_a", "Z-OTC")
    [entry] = audit_entries(shop, "item.class")
    assert entry["actor"] == "u_mgr_ph" and entry["note"] == change["reason"]
    assert entry["after"]["approved_by"]["username"] == "u_pharmacist"
    assert entry["after"]["approved_by"]["posts"] == ["pharmacist"]
    assert (entry["before"]["gsp_class"], entry["after"]["gsp_class"]) == ("rx", "otc_a")


@pytest.mark.refuses("RX-01", "SEC-02")
def test_the_requesters_other_account_is_the_requester(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    """Accounts belong to a person: a second account of the requester's own person (their ID number), qualified
    and holding the post, approves nothing the first one asked for."""
    c, amox = shop["client"], shop["items"]["amox"]
    pharmacist(engine, ctx, "u_mgr_ph", {Role.MANAGER, Role.PHARMACIST})
    pharmacist(engine, ctx, "u_ph_alt", {Role.PHARMACIST}, pin="7777")
    with core_unit(engine) as u:  # both accounts are one person's
        for name in ("u_mgr_ph", "u_ph_alt"):
            set_staff_profile(u, ctx, id_of(find_user(orm(u), ctx, name)), {"id_number": "110101199003070011"})
    change = {"gsp_class": "otc_a", "zone_code": "Z-OTC", "reason": "国家药监局转为甲类非处方药"}
    body = error(c.patch(f"/items/{amox}", json=change, headers=second(c, login(c, "u_mgr_ph", "6666"), "u_ph_alt",
                                                                       "7777", "catalog.write", str(amox))),
                 403, "RX-01")
    assert "申请人不能核准" in body["message_zh"]
    assert item(shop, "amox")["gsp_class"] == "rx"


@pytest.mark.refuses("RX-01", "SEC-03")
def test_a_frozen_pharmacists_approval_does_not_count(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, m, amox = shop["client"], shop["manager"], shop["items"]["amox"]
    pharmacist(engine, ctx, "u_leaver", {Role.PHARMACIST})
    with core_unit(engine) as u:
        freeze_user(u, ctx, id_of(find_user(orm(u), ctx, "u_leaver")), "离职")
    change = {"gsp_class": "otc_a", "zone_code": "Z-OTC", "reason": "转非处方药"}
    error(second_asked(c, m, "u_leaver", "6666", "catalog.write", str(amox)), 403, "SEC-03")
    # a wrong PIN is refused and counted as a failed login of that person
    error(second_asked(c, m, DUTY_PHARMACIST, "0000", "catalog.write", str(amox)), 403, "AUTH")
    error(c.patch(f"/items/{amox}", json=change, headers=m), 403, "RX-01")  # and nobody confirmed
    assert [e["entity_id"] for e in audit_entries(shop, "auth.login_failed")]
    assert item(shop, "amox")["gsp_class"] == "rx"


@pytest.mark.refuses("RX-01", "CARD-07")
def test_the_import_is_no_way_around(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, m = shop["client"], shop["manager"]

    def upload(rows: list[dict[str, str]], h: dict[str, str] = m, who: tuple[str, str] | None = None,
               reason: str = "") -> dict[str, Any]:
        keys = list(rows[0])
        buf = io.StringIO()
        csv.writer(buf).writerows([[COLUMN_BY_KEY[k].zh for k in keys], *([r[k] for k in keys] for r in rows)])
        params = {"format": "csv"} | ({"reason": reason} if reason else {})
        if who is not None:
            h = second(c, h, *who, "catalog.write")
        r = c.post("/catalog/import", params=params, content=buf.getvalue().encode("utf-8-sig"),
                   headers=h | {"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    amox = {"code": "YP0001", "name": "阿莫西林胶囊", "price": "12.50"}
    to_otc = [amox | {"gsp_class": "甲类非处方药", "zone": "Z-OTC"}]
    refused = upload(to_otc)
    assert refused["applied"] is False and [e["code"] for e in refused["errors"]] == ["RX-01"]
    assert refused["errors"][0]["column"] == "经营类别"
    refused = upload(to_otc, who=("u_cashier", ROLE_PINS["cashier"]), reason="转类")
    assert refused["applied"] is False and [e["code"] for e in refused["errors"]] == ["RX-01"]
    assert item(shop, "amox")["gsp_class"] == "rx"
    # a new 医保 code by file: refused without the other 医保 administrator, even from one who holds the post
    with core_unit(engine) as u:
        add_user(u, ctx, "u_keeper", "目录维护", "5555", {Role.MANAGER, Role.INSURANCE_ADMIN})
    keeper = login(c, "u_keeper", "5555")
    mapped = upload([amox | {"gsp_class": "处方药", "nhsa_code": NHSA_AMOX, "insurance_category": "乙类"}], keeper)
    assert mapped["applied"] is False and [e["code"] for e in mapped["errors"]] == ["CARD-07"]
    assert item(shop, "amox")["nhsa_code"] is None
    # with the pharmacist's approval the reclassification goes through, moved to the OTC zone in the same change
    done = upload(to_otc, who=(DUTY_PHARMACIST, ROLE_PINS["pharmacist"]), reason="国家药监局转为甲类非处方药")
    assert done["applied"] is True and done["updated"] == 1, done
    assert (item(shop, "amox")["gsp_class"], item(shop, "amox")["zone_code"]) == ("otc_a", "Z-OTC")


@pytest.mark.refuses("CARD-07")
def test_a_class_change_resets_the_uploaded_mapping(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, amox = shop["client"], shop["items"]["amox"]
    map_items(shop, engine, ctx)
    ok = c.patch(f"/items/{amox}", json={"gsp_class": "otc_a", "zone_code": "Z-OTC", "reason": "转非处方药"},
                 headers=by_pharmacist(c, shop["manager"], amox))
    assert ok.status_code == 200, ok.text
    assert (ok.json()["nhsa_code"], ok.json()["insurance_category"]) == (NHSA_AMOX, "yi")  # the mapping stays …
    assert uploaded_on(engine, amox) is None  # … but the card waits for the centre to have it again (CARD-07)


@pytest.mark.refuses("CARD-07", "SEC-01")
def test_the_uploaded_state_is_not_typed_nor_back_dated(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, amox = shop["client"], shop["items"]["amox"]
    mapping_approval(engine, ctx)
    ins = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
    r = c.patch(f"/items/{amox}/mapping", json={"nhsa_code": NHSA_AMOX, "insurance_category": "yi"} | CONFIRM_MAPPING,
                headers=by_admin2(c, ins, amox))
    assert r.status_code == 200, r.text
    yesterday = (ctx.today - timedelta(days=1)).isoformat()
    # typed onto the item: no such field, on either route
    error(c.patch(f"/items/{amox}/mapping", json={"mapping_uploaded_on": yesterday}, headers=ins), 422, "VALIDATION")
    error(c.patch(f"/items/{amox}", json={"mapping_uploaded_on": yesterday}, headers=shop["manager"]),
          422, "VALIDATION")
    # back-dated, or recorded alone, by oneself or with the manager
    error(c.post("/items/mapping-uploaded", json={"item_ids": [amox], "uploaded_on": yesterday} | CONFIRM_MAPPING,
                 headers=by_admin2(c, ins)), 422, "VALIDATION")
    error(c.post("/items/mapping-uploaded", json={"item_ids": [amox]}, headers=ins), 403, "CARD-07")
    error(c.post("/items/mapping-uploaded", json={"item_ids": [amox]}, headers=second(
        c, ins, "u_insurance_admin", ROLE_PINS["insurance_admin"], "mapping.write")), 403, "CARD-07")
    error(c.post("/items/mapping-uploaded", json={"item_ids": [amox]}, headers=second(
        c, ins, "u_manager", ROLE_PINS["manager"], "mapping.write")), 403, "CARD-07")
    error(c.post("/items/mapping-uploaded", json={"item_ids": [amox]} | CONFIRM_MAPPING,
                 headers=by_admin2(c, shop["manager"])), 403, "SEC-01")
    assert uploaded_on(engine, amox) is None
    ok = c.post("/items/mapping-uploaded", json={"item_ids": [amox]} | CONFIRM_MAPPING, headers=by_admin2(c, ins))
    assert ok.status_code == 200, ok.text
    assert uploaded_on(engine, amox) == ctx.today  # the store's today, whatever was asked
    [entry] = audit_entries(shop, "item.mapping_uploaded")
    assert entry["after"]["approved_by"]["username"] == SECOND_INSURANCE_ADMIN


@pytest.mark.refuses("CARD-07")
def test_a_national_code_is_one_items_and_well_formed(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c = shop["client"]
    ins = map_items(shop, engine, ctx)
    vitc = f"/items/{shop['items']['vitc']}/mapping"
    body = error(c.patch(vitc, json={"nhsa_code": NHSA_AMOX, "insurance_category": "jia"} | CONFIRM_MAPPING,
                         headers=by_admin2(c, ins, shop["items"]["vitc"])), 409, "CARD-07")
    assert body["details"]["item_id"] == shop["items"]["amox"]
    error(c.patch(vitc, json={"nhsa_code": "XA11", "insurance_category": "jia"} | CONFIRM_MAPPING,
                  headers=by_admin2(c, ins, shop["items"]["vitc"])), 422, "CODE-NHSA")
    error(c.patch(vitc, json={"nhsa_code": NHSA_VITC.lower(), "insurance_category": "jia"} | CONFIRM_MAPPING,
                  headers=by_admin2(c, ins, shop["items"]["vitc"])), 422, "CODE-NHSA")
    # a 中药饮片 code (T…) on an OTC drug names other goods
    body = error(c.patch(vitc, json={"nhsa_code": "T" + NHSA_VITC[1:], "insurance_category": "jia"} | CONFIRM_MAPPING,
                         headers=by_admin2(c, ins, shop["items"]["vitc"])), 422, "CARD-07")
    assert body["details"]["expected_first"] == ["X", "Z"]
    assert item(shop, "vitc")["nhsa_code"] is None
    ok = c.patch(vitc, json={"nhsa_code": NHSA_VITC, "insurance_category": "jia"} | CONFIRM_MAPPING,
                 headers=by_admin2(c, ins, shop["items"]["vitc"]))
    assert ok.status_code == 200, ok.text
    # the item's own mapping changed to another 甲/乙 is again the other administrator's to approve
    error(c.patch(vitc, json={"insurance_category": "yi"}, headers=ins), 403, "CARD-07")


@pytest.mark.refuses("GSP-01", "GSP-02")
@pytest.mark.parametrize("admits", [["rx", "herbal"], ["rx", "otc_a"], ["rx", "otc_b"], ["rx", "food"],
                                    ["rx", "device"], ["rx", "health_food"], ["otc_a", "herbal"]])
def test_a_zone_never_mixes_prescription_drugs_with_anything(shop: Shop, admits: list[str]) -> None:
    r = shop["client"].post("/zones", json={"code": "Z-MIX", "name": "混放区", "admits": admits,
                                            "route_group": "internal"}, headers=shop["manager"])
    assert r.status_code == 422 and r.json()["code"] in ("GSP-01", "GSP-02"), r.text
    assert "GSP-02" in {r.json()["code"], *(v["code"] for v in r.json()["details"].get("violations", []))}
    assert [z["code"] for z in shop["client"].get("/zones", headers=shop["manager"]).json()] == [
        "Z-DEV", "Z-FOOD", "Z-OTC", "Z-RX"]


def test_tightening_is_one_persons(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    """OTC to Rx, or a mapping taken away, makes nothing easier: the post that keeps the fact does it alone."""
    c, m = shop["client"], shop["manager"]
    ok = c.patch(f"/items/{shop['items']['vitc']}", json={"gsp_class": "rx", "zone_code": "Z-RX"}, headers=m)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["gsp_class"], ok.json()["zone_code"]) == ("rx", "Z-RX")
    [entry] = audit_entries(shop, "item.class")
    assert "approved_by" not in entry["after"]
    ins = map_items(shop, engine, ctx)
    off = c.patch(f"/items/{shop['items']['amox']}/mapping", json={"insurance_category": "bing"}, headers=ins)
    assert off.status_code == 200, off.text
    assert uploaded_on(engine, shop["items"]["amox"]) is None
    with read_session(engine) as s:
        assert s.exec(select(Item.gsp_class).where(Item.id == shop["items"]["vitc"])).one() == "rx"
