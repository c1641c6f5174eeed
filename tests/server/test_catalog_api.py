"""The catalog over HTTP: zones (GSP-01/02), items and barcodes (CODE-GTIN, CARD-02/07), placement
(GSP-01/02/03/07), one price (CARD-03), the 医保 mapping (CARD-07), search, batches (GSP-06) and
store scoping. Every test asserts what must happen and what must be refused, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from catalog.codes import gtin_check_digit
from catalog.demo_data import default_zones
from catalog.gsp import ZoneSpec
from server.config import Settings
from server.services.context import Ctx
from tests.conftest import CONFIRM_MAPPING, SECOND_INSURANCE_ADMIN, by_second_admin, mapping_approval

H = dict[str, dict[str, str]]
ERROR_KEYS = {"code", "message_zh", "message_en", "details"}
NHSA = "XA02BCA211A012010100154"
ZONES = {z.code: z for z in default_zones()}


def gtin(body: str) -> str:
    """A GTIN with its right check digit."""
    return body + str(gtin_check_digit(body))


def wrong_gtin(body: str) -> tuple[str, int]:
    """The same GTIN with a wrong check digit, and the digit that was expected."""
    right = gtin_check_digit(body)
    return body + str((right + 1) % 10), right


def drug(code: str, name: str, gsp: str = "rx", route: str = "internal", **kw: Any) -> dict[str, Any]:
    return {"code": code, "name": name, "gsp_class": gsp, "route": route, "approval_no": "国药准字H20003263",
            "spec": "0.25g*24粒", "manufacturer": "华北制药股份有限公司", "price_fen": 1250} | kw


def goods(code: str, name: str, gsp: str = "food", **kw: Any) -> dict[str, Any]:
    return {"code": code, "name": name, "gsp_class": gsp, "price_fen": 500} | kw


def zone_body(z: ZoneSpec) -> dict[str, Any]:
    return {"code": z.code, "name": z.name, "purpose": z.purpose.value, "admits": sorted(c.value for c in z.admits),
            "route_group": z.route_group, "storage": z.storage.value, "odour_prone": z.odour_prone}


def make_zones(client: TestClient, h: dict[str, str], *codes: str) -> None:
    for code in codes or tuple(ZONES):
        r = client.post("/zones", json=zone_body(ZONES[code]), headers=h)
        assert r.status_code == 201, r.text


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the error shape, with this status and code; its body is returned."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert body["message_zh"] and body["message_en"]
    return body


def create(client: TestClient, h: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/items", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def search(client: TestClient, h: dict[str, str], q: str) -> list[dict[str, Any]]:
    r = client.get("/items/search", params={"q": q}, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def opening(client: TestClient, h: dict[str, str], item_id: int, batch_no: str, qty: int = 30,
            **kw: Any) -> Any:
    return client.post("/batches/opening", json={
        "item_id": item_id, "batch_no": batch_no, "lot_no": "L" + batch_no, "manufactured_on": "2025-01-01",
        "expires_on": "2028-01-01", "cost_fen": 800, "qty": qty} | kw, headers=h)


def audit_ok(client: TestClient, h: dict[str, str]) -> int:
    r = client.get("/audit/verify", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["ok"], r.json()["problems"]
    return r.json()["entries"]


def audit_entries(client: TestClient, h: dict[str, str], action: str) -> list[dict[str, Any]]:
    r = client.get("/audit", params={"limit": 500}, headers=h)
    assert r.status_code == 200, r.text
    return [e for e in r.json() if e["action"] == action]


# --- zones ------------------------------------------------------------------------------------------

@pytest.mark.refuses("GSP-01", "GSP-02", "GSP-03", "SEC-01")
def test_zones_keep_apart_what_gsp_keeps_apart(client: TestClient, headers: H) -> None:
    m = headers["manager"]
    ok = client.post("/zones", json=zone_body(ZONES["Z-RX-IN"]), headers=m)
    assert ok.status_code == 201, ok.text
    assert ok.json() | {"id": 0} == zone_body(ZONES["Z-RX-IN"]) | {"id": 0}

    mixed = client.post("/zones", json={"code": "Z-MIX", "name": "混放区", "admits": ["otc_a", "food"],
                                        "route_group": "internal"}, headers=m)
    body = error(mixed, 422, "GSP-01")
    assert body["details"]["drugs"] == ["otc_a"] and body["details"]["non_drugs"] == ["food"]

    rx_otc = client.post("/zones", json={"code": "Z-RXOTC", "name": "处方非处方混放", "admits": ["rx", "otc_b"],
                                         "route_group": "internal"}, headers=m)
    assert error(rx_otc, 422, "GSP-02")["details"]["zone"] == "Z-RXOTC"

    odour_food = client.post("/zones", json={"code": "Z-OF", "name": "串味食品", "admits": ["food"],
                                             "route_group": "none", "odour_prone": True}, headers=m)
    error(odour_food, 422, "GSP-03")
    error(client.post("/zones", json=zone_body(ZONES["Z-RX-IN"]), headers=m), 409, "DUPLICATE")
    # only the manager keeps the layout
    error(client.post("/zones", json=zone_body(ZONES["Z-FOOD"]), headers=headers["cashier"]), 403, "SEC-01")
    error(client.post("/zones", json=zone_body(ZONES["Z-FOOD"]), headers=headers["insurance_admin"]), 403, "SEC-01")

    listed = client.get("/zones", headers=headers["cashier"])
    assert listed.status_code == 200
    assert [z["code"] for z in listed.json()] == ["Z-RX-IN"]  # nothing refused was created
    audit_ok(client, m)


# --- items: codes, classes, mapping at creation -------------------------------------------------------

@pytest.mark.refuses("CARD-02", "CARD-07", "GSP-01", "SEC-01")
def test_item_creation_checks_barcodes_classes_and_mapping(client: TestClient, headers: H) -> None:
    m = headers["manager"]
    make_zones(client, m, "Z-RX-IN", "Z-FOOD")
    bc1, bc2 = gtin("690123456701"), gtin("0690123456702")  # a GTIN-13 and a GTIN-14
    amx = create(client, m, drug("YP0001", "阿莫西林胶囊", barcodes=[bc1, bc2], zone_code="Z-RX-IN"))
    assert amx["barcodes"] == [bc1, bc2]
    assert (amx["zone_code"], amx["gsp_class_label"], amx["stock"], amx["price_fen"]) == ("Z-RX-IN", "处方药", 0, 1250)
    assert amx["mnemonic"].split()[0] == "AMXLJN"
    assert client.get(f"/items/{amx['id']}", headers=headers["cashier"]).json() == amx

    # a wrong GTIN check digit: refused, naming the digit expected
    bad, expected = wrong_gtin("690123456709")
    body = error(client.post("/items", json=drug("YP0002", "布洛芬缓释胶囊", gsp="otc_b", barcodes=[bad]),
                             headers=m), 422, "CODE-GTIN")
    assert body["details"]["expected_check_digit"] == expected
    assert body["details"]["code"] == bad
    assert f"应为 {expected}" in body["message_zh"] and f"expected {expected}" in body["message_en"]
    assert search(client, m, "YP0002") == []

    # a barcode already on another item: refused, naming that item
    body = error(client.post("/items", json=drug("YP0003", "头孢克肟胶囊", barcodes=[gtin("690123456703"), bc1]),
                             headers=m), 409, "CATALOG-BARCODE")
    assert body["details"] == {"barcode": bc1, "item_id": amx["id"]}
    assert f"#{amx['id']}" in body["message_zh"] and f"#{amx['id']}" in body["message_en"]
    assert search(client, m, "YP0003") == []
    assert client.get(f"/items/by-barcode/{gtin('690123456703')}", headers=m).status_code == 404
    # the same barcode twice in one request
    error(client.post("/items", json=drug("YP0004", "甲硝唑片", barcodes=[gtin("690123456704")] * 2), headers=m),
          422, "CATALOG-BARCODE")

    # CARD-02: food is never on the 医保 list
    error(client.post("/items", json=goods("FY0001", "苏打饼干", insurance_category="jia", nhsa_code=NHSA),
                      headers=m), 422, "CARD-02")
    error(client.post("/items", json=goods("FY0001", "苏打饼干", nhsa_code=NHSA), headers=m), 422, "CARD-02")
    # CARD-07: a 甲 drug carries its national code; with it, the drug is accepted
    error(client.post("/items", json=drug("YP0005", "二甲双胍片", insurance_category="jia"), headers=m),
          422, "CARD-07")
    # ... which only the 医保 administrator sets (CARD-07): the manager creates the item without it
    error(client.post("/items", json=drug("YP0005", "二甲双胍片", insurance_category="jia", nhsa_code=NHSA), headers=m),
          403, "CARD-07")
    met = create(client, m, drug("YP0005", "二甲双胍片"))
    assert (met["insurance_category"], met["insurance_label"], met["nhsa_code"]) == ("none", "—", None)
    food = create(client, m, goods("FY0001", "苏打饼干", zone_code="Z-FOOD"))
    assert (food["insurance_category"], food["zone_code"]) == ("none", "Z-FOOD")

    # a negative price never reaches the service
    neg = error(client.post("/items", json=drug("YP0006", "维生素B1片", price_fen=-1), headers=m), 422, "VALIDATION")
    assert [e["field"] for e in neg["details"]["errors"]] == ["price_fen"]
    # a drug needs its approval number and its route
    error(client.post("/items", json=drug("YP0006", "维生素B1片", approval_no=""), headers=m), 422, "CATALOG-APPROVAL")
    error(client.post("/items", json=drug("YP0006", "维生素B1片", route="other"), headers=m), 422, "GSP-01")
    error(client.post("/items", json=drug("YP0001", "阿莫西林胶囊"), headers=m), 409, "DUPLICATE")
    error(client.post("/items", json=drug("YP0006", "维生素B1片", zone_code="Z-NOPE"), headers=m), 404, "NOT_FOUND")
    # the cashier and the insurance administrator do not keep the catalog
    for role in ("cashier", "pharmacist", "insurance_admin", "sysadmin"):
        error(client.post("/items", json=drug("YP0006", "维生素B1片"), headers=headers[role]), 403, "SEC-01")
    assert search(client, m, "YP0006") == []
    assert {h["item"]["code"] for h in search(client, m, "YP000")} == {"YP0001", "YP0005"}
    audit_ok(client, m)


# --- placement --------------------------------------------------------------------------------------

@pytest.mark.refuses("GSP-01", "GSP-02", "GSP-03", "GSP-07", "SEC-01")
def test_placement_refused_where_gsp_keeps_items_apart(client: TestClient, headers: H) -> None:
    m = headers["manager"]
    make_zones(client, m, "Z-RX-IN", "Z-RX-EX", "Z-OTC-EX", "Z-ODOUR", "Z-COLD", "Z-QA", "Z-FOOD")
    cases = [
        # (item, wrong zone, rule, right zone)
        (drug("YP0101", "复方感冒灵颗粒", gsp="otc_a"), "Z-RX-IN", "GSP-02", None),
        (goods("FY0101", "矿泉水"), "Z-RX-IN", "GSP-02", "Z-FOOD"),
        (drug("YP0102", "红霉素软膏", route="external"), "Z-RX-IN", "GSP-01", "Z-RX-EX"),
        (drug("YP0103", "阿莫西林胶囊"), "Z-RX-EX", "GSP-01", "Z-RX-IN"),
        (drug("YP0104", "风油精", gsp="otc_b", route="external", odour_prone=True), "Z-OTC-EX", "GSP-03",
         "Z-ODOUR"),
        (drug("YP0105", "复方薄荷脑软膏", gsp="otc_b", route="external"), "Z-ODOUR", "GSP-03", "Z-OTC-EX"),
        (drug("YP0106", "胰岛素注射液", route="injection", storage="cold"), "Z-RX-IN", "GSP-07", "Z-COLD"),
        (drug("YP0107", "硝苯地平片"), "Z-COLD", "GSP-07", "Z-RX-IN"),
        (drug("YP0108", "氯雷他定片"), "Z-QA", "GSP-02", "Z-RX-IN"),  # quarantine: never a display
    ]
    for body, wrong, rule, right in cases:
        # at creation: refused, and nothing created
        refused = error(client.post("/items", json=body | {"zone_code": wrong}, headers=m), 422, rule)
        assert refused["details"]["zone"] == wrong
        assert search(client, m, body["code"]) == []
        # created unplaced, then moved: refused, the item stays where it was
        item = create(client, m, body)
        error(client.put(f"/items/{item['id']}/zone", json={"zone_code": wrong}, headers=m), 422, rule)
        assert client.get(f"/items/{item['id']}", headers=m).json()["zone_code"] is None
        if right:
            placed = client.put(f"/items/{item['id']}/zone", json={"zone_code": right}, headers=m)
            assert placed.status_code == 200, placed.text
            assert placed.json()["zone_code"] == right
            again = error(client.put(f"/items/{item['id']}/zone", json={"zone_code": wrong}, headers=m), 422, rule)
            assert again["details"]["zone"] == wrong
            assert client.get(f"/items/{item['id']}", headers=m).json()["zone_code"] == right

    ointment = search(client, m, "YP0102")[0]["item"]
    details = error(client.put(f"/items/{ointment['id']}/zone", json={"zone_code": "Z-RX-IN"}, headers=m), 422,
                    "GSP-01")["details"]
    assert {"item_route": "external", "zone_route": "internal"}.items() <= details.items()
    # a change that would break the placement is refused too: a normal item in Z-RX-IN cannot become cold
    amx = search(client, m, "YP0103")[0]["item"]
    error(client.patch(f"/items/{amx['id']}", json={"storage": "cold"}, headers=m), 422, "GSP-07")
    assert client.get(f"/items/{amx['id']}", headers=m).json()["storage"] == "normal"
    error(client.put(f"/items/{amx['id']}/zone", json={"zone_code": "Z-NOPE"}, headers=m), 404, "NOT_FOUND")
    error(client.put(f"/items/{amx['id']}/zone", json={"zone_code": "Z-RX-EX"}, headers=headers["cashier"]),
          403, "SEC-01")
    error(client.put("/items/999999/zone", json={"zone_code": "Z-RX-IN"}, headers=m), 404, "NOT_FOUND")
    assert len(audit_entries(client, m, "item.place")) == 8
    audit_ok(client, m)


# --- CARD-03: one price -----------------------------------------------------------------------------

@pytest.mark.refuses("CARD-03", "SEC-01")
def test_one_price_for_every_tender(client: TestClient, headers: H) -> None:
    m, cashier = headers["manager"], headers["cashier"]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("ItemIn", "ItemPatch", "ItemOut"):
        assert {p for p in schemas[name]["properties"] if "price" in p} == {"price_fen", "split_price_fen"}, name
    assert "price_fen" in schemas["ItemIn"]["required"]
    # no second price can be smuggled in
    extra = error(client.post("/items", json=drug("YP0201", "阿莫西林胶囊", card_price_fen=1100), headers=m),
                  422, "VALIDATION")
    assert extra["details"]["errors"][0]["field"] == "card_price_fen"

    bc = gtin("690123456720")
    item = create(client, m, drug("YP0201", "阿莫西林胶囊", barcodes=[bc]))
    changed = client.patch(f"/items/{item['id']}", json={"price_fen": 1300}, headers=m)
    assert changed.status_code == 200 and changed.json()["price_fen"] == 1300
    # everyone sees the one new price, whichever way they look the item up
    assert client.get(f"/items/{item['id']}", headers=cashier).json()["price_fen"] == 1300
    assert client.get(f"/items/by-barcode/{bc}", headers=headers["pharmacist"]).json()["price_fen"] == 1300
    assert search(client, cashier, "AMXL")[0]["item"]["price_fen"] == 1300
    error(client.patch(f"/items/{item['id']}", json={"price_fen": 1}, headers=cashier), 403, "SEC-01")
    error(client.patch(f"/items/{item['id']}", json={"price_fen": -5}, headers=m), 422, "VALIDATION")
    error(client.patch(f"/items/{item['id']}", json={"code": "YP9999"}, headers=m), 422, "VALIDATION")
    assert client.get(f"/items/{item['id']}", headers=cashier).json()["price_fen"] == 1300
    [update] = audit_entries(client, m, "item.update")
    assert (update["before"]["price_fen"], update["after"]["price_fen"]) == (1250, 1300)
    assert update["actor"] == "u_manager" and update["entity_id"] == str(item["id"])
    audit_ok(client, m)


# --- CARD-07: the 医保 mapping ----------------------------------------------------------------------

@pytest.mark.refuses("CARD-07", "CARD-02", "SEC-01")
def test_mapping_is_the_insurance_admins_and_audited(client: TestClient, headers: H, engine: Engine, ctx: Ctx) -> None:
    m, ins = headers["manager"], headers["insurance_admin"]
    mapping_approval(engine, ctx)  # the other 医保 administrator
    item = create(client, m, drug("YP0301", "阿莫西林胶囊"))
    path = f"/items/{item['id']}"

    for change in ({"nhsa_code": NHSA, "insurance_category": "jia"}, {"insurance_category": "bing"},
                   {"nhsa_code": NHSA}, {"price_fen": 1300, "insurance_category": "yi"}):
        body = error(client.patch(path, json=change, headers=m), 403, "CARD-07")
        assert body["details"] == {"action": "mapping.write"}
    assert client.get(path, headers=m).json()["price_fen"] == 1250  # the mixed change did nothing
    # the insurance administrator does not edit the rest of the item, nor the mapping on the clerk's route
    error(client.patch(path, json={"price_fen": 1}, headers=ins), 403, "SEC-01")
    error(client.patch(path, json={"insurance_category": "jia", "nhsa_code": NHSA}, headers=ins), 403, "SEC-01")
    error(client.patch(f"{path}/mapping", json={"insurance_category": "jia", "nhsa_code": NHSA}, headers=m),
          403, "SEC-01")
    error(client.patch(f"{path}/mapping", json={"insurance_category": "jia", "price_fen": 1}, headers=ins),
          422, "VALIDATION")
    error(client.patch(f"{path}/mapping", json={"insurance_category": "jia"}, headers=ins), 422, "CARD-07")
    error(client.patch(f"{path}/mapping", json={"insurance_category": "jia", "nhsa_code": "XA02"}, headers=ins),
          422, "CODE-NHSA")
    assert audit_entries(client, m, "item.mapping") == []
    unchanged = client.get(path, headers=m).json()
    assert (unchanged["insurance_category"], unchanged["nhsa_code"]) == ("none", None)

    # a new code makes the card pay: the other 医保 administrator approves it with their PIN, and a reason is given
    error(client.patch(f"{path}/mapping", json={"insurance_category": "jia", "nhsa_code": NHSA}, headers=ins),
          403, "CARD-07")
    mapped = client.patch(f"{path}/mapping", json={"insurance_category": "jia", "nhsa_code": NHSA} | CONFIRM_MAPPING,
                          headers=by_second_admin(client, ins, "mapping.write", str(item["id"])))
    assert mapped.status_code == 200, mapped.text
    assert (mapped.json()["insurance_category"], mapped.json()["nhsa_code"]) == ("jia", NHSA)
    assert client.get(path, headers=headers["cashier"]).json()["insurance_label"] == "甲"
    # food cannot be mapped, whoever asks
    food = create(client, m, goods("FY0301", "苏打饼干"))
    error(client.patch(f"/items/{food['id']}/mapping", json={"insurance_category": "yi", "nhsa_code": NHSA},
                       headers=ins), 422, "CARD-02")

    [entry] = audit_entries(client, m, "item.mapping")
    assert entry["entity"] == "item" and entry["entity_id"] == str(item["id"])
    assert entry["actor"] == "u_insurance_admin"
    assert (entry["before"]["insurance_category"], entry["before"]["nhsa_code"]) == ("none", None)
    assert (entry["after"]["insurance_category"], entry["after"]["nhsa_code"]) == ("jia", NHSA)
    assert entry["after"]["approved_by"]["username"] == SECOND_INSURANCE_ADMIN
    assert entry["note"] == CONFIRM_MAPPING["reason"]
    error(client.get("/audit", headers=headers["cashier"]), 403, "SEC-01")
    audit_ok(client, m)


# --- search and barcode lookup ----------------------------------------------------------------------

@pytest.mark.refuses("SEC-01")
def test_search_by_mnemonic_name_and_barcode_with_stock(client: TestClient, headers: H) -> None:
    m, cashier = headers["manager"], headers["cashier"]
    bc13 = gtin("690123456730")
    bc14 = gtin("0" + bc13[:-1])  # the same product's GTIN-14 (a leading 0): not a prefix match for bc13
    prefix14 = gtin(bc13)  # a GTIN-14 whose first 13 digits are bc13: a prefix match for bc13
    amx = create(client, m, drug("YP0401", "阿莫西林胶囊", barcodes=[bc13, bc14]))
    clav = create(client, m, drug("YP0402", "阿莫西林克拉维酸钾片"))
    ibu = create(client, m, drug("YP0403", "布洛芬", gsp="otc_b", barcodes=[prefix14]))
    assert ibu["barcodes"] == [prefix14]

    hits = search(client, cashier, "AMXL")
    assert [h["item"]["id"] for h in hits] == [amx["id"], clav["id"]]  # shorter name first within a rank
    assert {(h["rank"], h["matched"]) for h in hits} == {("prefix", "mnemonic")}
    assert [h["item"]["id"] for h in search(client, cashier, "amxl")] == [amx["id"], clav["id"]]
    assert [h["item"]["id"] for h in search(client, cashier, "AMXLJN")] == [amx["id"]]
    assert [h["item"]["id"] for h in search(client, cashier, "克拉维")] == [clav["id"]]
    fragment = search(client, cashier, "西林")
    assert {h["item"]["id"] for h in fragment} == {amx["id"], clav["id"]}
    assert {h["rank"] for h in fragment} == {"contains"}
    assert search(client, cashier, "头孢") == []

    # the exact barcode ranks first, ahead of an item whose (longer) barcode merely starts with it
    by_code = search(client, cashier, bc13)
    assert [(h["item"]["id"], h["rank"], h["matched"]) for h in by_code] == [
        (amx["id"], "exact", "barcode"), (ibu["id"], "prefix", "barcode")]
    assert [h["item"]["id"] for h in search(client, cashier, bc14)] == [amx["id"]]

    # stock per item after an opening batch
    assert opening(client, m, amx["id"], "B0401", qty=30).status_code == 201
    assert opening(client, m, amx["id"], "B0402", qty=12).status_code == 201
    stock = {h["item"]["id"]: h["item"]["stock"] for h in search(client, cashier, "AMXL")}
    assert stock == {amx["id"]: 42, clav["id"]: 0}

    # a name change is seen by the very next search; the old name and initials no longer find it
    renamed = client.patch(f"/items/{amx['id']}", json={"name": "阿莫仙胶囊"}, headers=m)
    assert renamed.status_code == 200 and renamed.json()["mnemonic"].split()[0] == "AMXJN"
    assert [h["item"]["id"] for h in search(client, cashier, "阿莫仙")] == [amx["id"]]
    assert [h["item"]["id"] for h in search(client, cashier, "AMXL")] == [clav["id"]]
    assert [h["item"]["id"] for h in search(client, cashier, "AMXJ")] == [amx["id"]]
    assert search(client, cashier, "AMXJ")[0]["item"]["stock"] == 42

    # by barcode: found; unknown -> 404 in the error shape
    found = client.get(f"/items/by-barcode/{bc14}", headers=cashier)
    assert found.status_code == 200 and found.json()["id"] == amx["id"] and found.json()["name"] == "阿莫仙胶囊"
    unknown = gtin("690123456739")
    assert error(client.get(f"/items/by-barcode/{unknown}", headers=cashier), 404, "NOT_FOUND")["details"] == {
        "barcode": unknown}
    error(client.get("/items/by-barcode/not-a-code", headers=cashier), 404, "NOT_FOUND")
    error(client.get("/items/999999", headers=cashier), 404, "NOT_FOUND")
    error(client.get("/items/search", params={"q": ""}, headers=cashier), 422, "VALIDATION")
    error(client.get("/items/search", params={"q": "AMXL"}, headers=headers["sysadmin"]), 403, "SEC-01")
    assert client.get("/items/search", params={"q": "AMXL"}).status_code == 401
    audit_ok(client, m)


# --- batches ----------------------------------------------------------------------------------------

@pytest.mark.refuses("GSP-06", "SEC-01")
def test_opening_batches_and_quality_stop(client: TestClient, headers: H) -> None:
    m, pharm, cashier = headers["manager"], headers["pharmacist"], headers["cashier"]
    item = create(client, m, drug("YP0501", "阿莫西林胶囊"))
    batches = f"/items/{item['id']}/batches"

    error(opening(client, m, item["id"], "B0500", manufactured_on="2026-01-01", expires_on="2025-12-31"),
          422, "VALIDATION")
    error(opening(client, m, item["id"], "B0500", manufactured_on="2026-01-01", expires_on="2026-01-01"),
          422, "VALIDATION")
    error(opening(client, m, item["id"], "B0500", qty=-1), 422, "VALIDATION")
    error(opening(client, m, 999999, "B0500"), 404, "NOT_FOUND")
    error(opening(client, cashier, item["id"], "B0500"), 403, "SEC-01")
    error(opening(client, pharm, item["id"], "B0500"), 403, "SEC-01")
    assert client.get(batches, headers=m).json() == []

    made = opening(client, m, item["id"], "B0501", qty=30)
    assert made.status_code == 201, made.text
    batch = made.json()
    assert (batch["status"], batch["stock"], batch["expired"], batch["stop_reason"]) == ("active", 30, False, "")
    error(opening(client, m, item["id"], "B0501"), 409, "DUPLICATE")

    stop = f"/batches/{batch['id']}/stop"
    error(client.post(stop, json={}, headers=pharm), 422, "VALIDATION")
    error(client.post(stop, json={"reason": ""}, headers=pharm), 422, "VALIDATION")
    error(client.post(stop, json={"reason": "   "}, headers=pharm), 422, "GSP-06")
    error(client.post(stop, json={"reason": "外观异常"}, headers=cashier), 403, "SEC-01")
    error(client.post(stop, json={"reason": "外观异常"}, headers=headers["insurance_admin"]), 403, "SEC-01")
    error(client.post("/batches/999999/stop", json={"reason": "外观异常"}, headers=pharm), 404, "NOT_FOUND")
    assert client.get(batches, headers=cashier).json()[0]["status"] == "active"

    stopped = client.post(stop, json={"reason": "胶囊外观异常，待质量复核"}, headers=pharm)
    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["status"], stopped.json()["stop_reason"], stopped.json()["stock"]) == (
        "stopped", "胶囊外观异常，待质量复核", 30)
    [listed] = client.get(batches, headers=cashier).json()
    assert (listed["status"], listed["stop_reason"]) == ("stopped", "胶囊外观异常，待质量复核")

    release = f"/batches/{batch['id']}/release"
    error(client.post(release, json={"reason": "复核合格"}, headers=cashier), 403, "SEC-01")
    error(client.post(release, json={}, headers=pharm), 422, "VALIDATION")
    assert client.get(batches, headers=cashier).json()[0]["status"] == "stopped"
    released = client.post(release, json={"reason": "复核合格"}, headers=m)
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["stop_reason"]) == ("active", "")

    [stop_entry] = audit_entries(client, m, "batch.stop")
    assert stop_entry["actor"] == "u_pharmacist" and stop_entry["note"] == "胶囊外观异常，待质量复核"
    assert stop_entry["before"]["status"] == "active" and stop_entry["after"]["status"] == "stopped"
    assert len(audit_entries(client, m, "batch.release")) == 1
    audit_ok(client, m)


# --- store scoping ----------------------------------------------------------------------------------

@contextmanager
def other_store(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, H]]:
    """A second service for store P44030000002 on the same database, with its own users."""
    from server.app import create_app
    from tests.conftest import ROLE_PINS, add_role_users, login, make_settings

    settings_b = make_settings(settings.database.url, store={"fixmedins_code": "P44030000002", "name": "分店二"})
    app = create_app(settings_b)
    try:
        add_role_users(engine, Ctx(app.state.dingdian.store_id, settings_b))
        with TestClient(app) as client_b:
            yield client_b, {role: login(client_b, f"u_{role}", ROLE_PINS[role])
                             for role in ("manager", "pharmacist", "insurance_admin")}
    finally:
        app.state.dingdian.engine.dispose()


def test_a_store_sees_only_its_own_catalog(client: TestClient, headers: H, settings: Settings,
                                           engine: Engine) -> None:
    m = headers["manager"]
    make_zones(client, m, "Z-RX-IN")
    bc = gtin("690123456760")
    amx = create(client, m, drug("YP0601", "阿莫西林胶囊", barcodes=[bc], zone_code="Z-RX-IN"))
    batch = opening(client, m, amx["id"], "B0601", qty=20).json()

    with other_store(settings, engine) as (client_b, hb):
        mb = hb["manager"]
        assert client_b.get("/store", headers=mb).json()["code"] == "P44030000002"
        # nothing of store A is visible or reachable from store B
        assert search(client_b, mb, "AMXL") == [] and search(client_b, mb, bc) == []
        assert search(client_b, mb, "YP0601") == []
        assert client_b.get("/zones", headers=mb).json() == []
        error(client_b.get(f"/items/{amx['id']}", headers=mb), 404, "NOT_FOUND")
        error(client_b.get(f"/items/by-barcode/{bc}", headers=mb), 404, "NOT_FOUND")
        error(client_b.get(f"/items/{amx['id']}/batches", headers=mb), 404, "NOT_FOUND")
        error(client_b.patch(f"/items/{amx['id']}", json={"price_fen": 1}, headers=mb), 404, "NOT_FOUND")
        error(client_b.patch(f"/items/{amx['id']}/mapping", json={"insurance_category": "bing"},
                             headers=hb["insurance_admin"]), 404, "NOT_FOUND")
        error(client_b.post(f"/items/{amx['id']}/barcodes", json={"code": gtin("690123456761")}, headers=mb),
              404, "NOT_FOUND")
        error(client_b.put(f"/items/{amx['id']}/zone", json={"zone_code": "Z-RX-IN"}, headers=mb), 404, "NOT_FOUND")
        error(opening(client_b, mb, amx["id"], "B0602"), 404, "NOT_FOUND")
        error(client_b.post(f"/batches/{batch['id']}/stop", json={"reason": "x"}, headers=hb["pharmacist"]),
              404, "NOT_FOUND")
        # store A's tokens do not work on store B's service, nor B's on A's
        assert client_b.get("/zones", headers=m).status_code == 401
        assert client.get("/zones", headers=mb).status_code == 401

        # store B has its own code space: the same item code and barcode are free there
        make_zones(client_b, mb, "Z-RX-IN")
        own = create(client_b, mb, drug("YP0601", "阿莫西林胶囊", barcodes=[bc], zone_code="Z-RX-IN", price_fen=1500))
        assert own["id"] != amx["id"]
        assert [h["item"]["id"] for h in search(client_b, mb, "AMXL")] == [own["id"]]
        assert search(client_b, mb, "AMXL")[0]["item"]["stock"] == 0
        assert client_b.get(f"/items/by-barcode/{bc}", headers=mb).json()["price_fen"] == 1500
        error(client.get(f"/items/{own['id']}", headers=m), 404, "NOT_FOUND")
        audit_ok(client_b, mb)
        # store B's writes are in its own audit log, not in store A's
        assert str(own["id"]) in {e["entity_id"] for e in audit_entries(client_b, mb, "item.create")}
        assert str(own["id"]) not in {e["entity_id"] for e in audit_entries(client, m, "item.create")}

    a_hits = search(client, m, "AMXL")
    assert [(h["item"]["id"], h["item"]["price_fen"], h["item"]["stock"]) for h in a_hits] == [(amx["id"], 1250, 20)]
    assert client.get(f"/items/by-barcode/{bc}", headers=m).json()["id"] == amx["id"]
    audit_ok(client, m)
