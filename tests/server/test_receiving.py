"""Receiving (采购入库, GSP-05) through the API: a delivery entered, inspected (验收) by a named person, approved by
the person in charge who is not the inspector; only then its stock, at cost. Each refusal walked around the way
someone trying would, and shown to write nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from catalog.codes import uscc_check_char
from server import audit
from server.db.uow import core_unit, read_session
from server.roles import Role
from server.services.context import Ctx
from server.services.stock import ledger
from server.services.store import users
from tests.conftest import BARCODE_VITC, ROLE_PINS, Shop, login
from tests.server.test_selling import new_sale, scan

ID_A, ID_B = "110101199003070011", "110101198505050022"
USCC_BODY = "91110000MA01ABCD1"
USCC = USCC_BODY + uscc_check_char(USCC_BODY)


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                     for t in ("receipt", "receipt_line", "receipt_trace_code", "batch", "stock_movement",
                               "supplier_item"))


def _supplier(c: TestClient, manager: dict[str, str], name: str, expiry: date, scope: list[str],
              items: Sequence[int] = (), approve: bool = True) -> int:
    r = c.post("/suppliers", json={"name": name, "licence_no": "京AA0000001", "licence_expiry": expiry.isoformat(),
                                   "business_licence_no": USCC, "scope": scope}, headers=manager)
    assert r.status_code == 201, r.text
    sid = int(r.json()["id"])
    if approve:
        assert c.post(f"/suppliers/{sid}/approve", json={"note": "首营资料齐全"}, headers=manager).status_code == 200
    for item in items:
        ok = c.post(f"/suppliers/{sid}/items/{item}/approve", json={}, headers=manager)
        assert ok.status_code == 201, ok.text
    return sid


def _line(item: int, zone: str, qty: int = 10, cost: int = 180, lot: str = "L2601", today: date | None = None,
          codes: Sequence[str] = ()) -> dict[str, Any]:
    today = today or date(2026, 1, 1)
    return {"item_id": item, "lot_no": lot, "manufactured_on": (today - timedelta(days=60)).isoformat(),
            "expires_on": (today + timedelta(days=700)).isoformat(), "qty": qty, "unit_cost_fen": cost,
            "zone_code": zone, "trace_codes": list(codes)}


def _receipt(c: TestClient, h: dict[str, str], supplier: int, lines: list[dict[str, Any]],
             on: date | None = None) -> Any:
    body: dict[str, Any] = {"supplier_id": supplier, "dynt_no": "SH-20260001", "purc_invo_no": "FP-0001",
                            "lines": lines}
    if on is not None:
        body["business_date"] = on.isoformat()
    return c.post("/receipts", json=body, headers=h)


def _sellable(engine: Engine, ctx: Ctx, item: int) -> int:
    with read_session(engine) as s:
        return ledger.sellable_by_item(s, ctx, [item])[item]


def _verifies(engine: Engine, ctx: Ctx) -> None:
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]


def test_a_delivery_enters_stock_only_when_approved_at_its_cost(shop: Shop, engine: Engine,
                                                                 ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股北京", today + timedelta(days=365), ["drugs"], [items["vitc"], items["amox"]])
    before_vitc, before_amox = _sellable(engine, ctx, items["vitc"]), _sellable(engine, ctx, items["amox"])
    codes = ["81234567890123456781", "81234567890123456782"]
    scanned = {k: v for k, v in _line(items["vitc"], "Z-OTC", 10, 180, today=today, codes=codes).items()
               if k != "item_id"} | {"barcode": BARCODE_VITC}  # the box's barcode finds the item
    made = _receipt(c, ph, sup, [scanned,
                                 _line(items["amox"], "Z-RX", 2, 800, "L-AMX", today=today),
                                 _line(items["vitc"], "Z-OTC", 5, 180, "L-BAD", today=today)])
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    assert made.json()["status"] == "draft" and made.json()["lines"][0]["trace_codes"] == codes
    # entered, and inspected: still nothing sellable, nothing in the ledger
    inspected = c.post(f"/receipts/{rid}/inspection", json={"verdicts": [
        {"line_no": 1, "outcome": "accepted"}, {"line_no": 2, "outcome": "quarantine", "reason": "外包装破损待复检"},
        {"line_no": 3, "outcome": "rejected", "reason": "批号与随货同行单不符"}]}, headers=ph)
    assert inspected.status_code == 200, inspected.text
    assert _sellable(engine, ctx, items["vitc"]) == before_vitc
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM stock_movement WHERE ref_type = 'receipt_line'")).scalar_one() == 0
    approved = c.post(f"/receipts/{rid}/approve", json={"note": "同意入库"}, headers=mg)
    assert approved.status_code == 200, approved.text
    lines = approved.json()["lines"]
    assert approved.json()["status"] == "approved" and lines[2]["batch_id"] is None  # rejected: no batch
    assert _sellable(engine, ctx, items["vitc"]) == before_vitc + 10
    assert _sellable(engine, ctx, items["amox"]) == before_amox  # 待验: held in quarantine, never sold from there
    with engine.connect() as conn:
        moved = conn.execute(text(
            "SELECT m.kind, m.qty, m.location, m.cost_fen, m.retail_fen, m.business_date, b.zone_id, b.lot_no "
            "FROM stock_movement m JOIN batch b ON b.id = m.batch_id WHERE m.ref_type = 'receipt_line' "
            "ORDER BY m.id")).all()
        zones: dict[str, int] = dict(conn.execute(text("SELECT code, id FROM zone")).all())
    assert [tuple(r[:5]) for r in moved] == [("purchase", 10, "sellable", 1800, 3500),
                                              ("purchase", 48, "quarantine", 1600, 2500)]
    assert {str(r[5]) for r in moved} == {today.isoformat()}
    assert [(r[6], r[7]) for r in moved] == [(zones["Z-OTC"], "L2601"), (zones["Z-RX"], "L-AMX")]
    # the held line, fit on re-inspection, to the shelf at the cost it holds; a rejected one has nothing to release
    assert c.post(f"/receipts/{rid}/lines/3/release", json={"reason": "复检合格"}, headers=ph).json()["code"] == "GSP-05"
    released = c.post(f"/receipts/{rid}/lines/2/release", json={"reason": "复检合格"}, headers=ph)
    assert released.status_code == 200, released.text
    assert _sellable(engine, ctx, items["amox"]) == before_amox + 48
    assert c.post(f"/receipts/{rid}/lines/2/release", json={"reason": "再放一次"}, headers=ph).status_code == 409
    with engine.connect() as conn:
        pair = conn.execute(text("SELECT kind, qty, location, cost_fen FROM stock_movement WHERE kind = "
                                 "'quarantine_out' ORDER BY id")).all()
    assert [tuple(p) for p in pair] == [("quarantine_out", -48, "quarantine", -1600),
                                        ("quarantine_out", 48, "sellable", 1600)]
    _verifies(engine, ctx)


@pytest.mark.refuses("GSP-05")
def test_goods_from_a_supplier_whose_licence_has_expired_are_refused_naming_the_expiry(
        shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    lapsed = _supplier(c, mg, "过期医药", today - timedelta(days=1), ["drugs"], [items["vitc"]])
    counts = _counts(engine)
    refused = _receipt(c, ph, lapsed, [_line(items["vitc"], "Z-OTC", today=today)])
    assert refused.status_code == 409 and refused.json()["code"] == "GSP-05"
    assert (today - timedelta(days=1)).isoformat() in refused.json()["message_zh"]
    # back-dated to the day after the licence's last day: refused too; to its last day, the licence held
    ten_days = _supplier(c, mg, "十日医药", today - timedelta(days=11), ["drugs"], [items["vitc"]])
    late = _receipt(c, ph, ten_days, [_line(items["vitc"], "Z-OTC", today=today)], on=today - timedelta(days=10))
    assert late.status_code == 409 and late.json()["code"] == "GSP-05"
    assert late.json()["details"]["licence_expiry"] == (today - timedelta(days=11)).isoformat()
    assert _counts(engine)[:5] == counts[:5]
    on_time = _receipt(c, ph, ten_days, [_line(items["vitc"], "Z-OTC", today=today)], on=today - timedelta(days=11))
    assert on_time.status_code == 201, on_time.text
    # entered while valid, the licence then found lapsed before that day: the approval judges it again
    current = _supplier(c, mg, "在期医药", today + timedelta(days=30), ["drugs"], [items["vitc"]])
    entered = _receipt(c, ph, current, [_line(items["vitc"], "Z-OTC", today=today)])
    rid = entered.json()["id"]
    c.post(f"/receipts/{rid}/inspection", json={"verdicts": [{"line_no": 1, "outcome": "accepted"}]}, headers=ph)
    assert c.patch(f"/suppliers/{current}", json={"licence_expiry": (today - timedelta(days=2)).isoformat(),
                                                  "note": "核对原件：许可证已过期"}, headers=mg).status_code == 200
    counts = _counts(engine)
    stale = c.post(f"/receipts/{rid}/approve", json={}, headers=mg)
    assert stale.status_code == 409 and stale.json()["code"] == "GSP-05"
    assert _counts(engine) == counts and c.get(f"/receipts/{rid}", headers=mg).json()["status"] == "inspected"
    # a supplier never approved as a first-time supplier (首营) delivers nothing either
    new = _supplier(c, mg, "未审医药", today + timedelta(days=300), ["drugs"], approve=False)
    assert _receipt(c, ph, new, [_line(items["vitc"], "Z-OTC", today=today)]).json()["code"] == "GSP-05"
    _verifies(engine, ctx)


@pytest.mark.refuses("GSP-05")
def test_a_supplier_delivers_only_within_its_scope_and_only_items_approved_from_it(
        shop: Shop, engine: Engine) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    drugs_only = _supplier(c, mg, "药品批发", today + timedelta(days=365), ["drugs"], [items["vitc"]])
    counts = _counts(engine)
    device = _receipt(c, ph, drugs_only, [_line(items["mask"], "Z-DEV", today=today)])
    assert device.status_code == 409 and device.json()["code"] == "GSP-05"
    assert device.json()["details"]["needs"] == "devices"
    # the device slipped in beside a drug it may deliver: the whole receipt refused
    mixed = _receipt(c, ph, drugs_only, [_line(items["vitc"], "Z-OTC", today=today),
                                         _line(items["mask"], "Z-DEV", today=today)])
    assert mixed.status_code == 409 and mixed.json()["code"] == "GSP-05"
    # nor can the device be approved for it as a first-time item (首营品种) first
    assert c.post(f"/suppliers/{drugs_only}/items/{items['mask']}/approve", json={},
                  headers=mg).json()["code"] == "GSP-05"
    # a drug in scope but never approved from this supplier: refused until it is
    unapproved = _receipt(c, ph, drugs_only, [_line(items["amox"], "Z-RX", today=today)])
    assert unapproved.status_code == 409 and "首营品种" in unapproved.json()["message_zh"]
    # nor is a delivery without its delivery note (随货同行单) taken
    body = {"supplier_id": drugs_only, "dynt_no": " ", "lines": [_line(items["vitc"], "Z-OTC", today=today)]}
    assert c.post("/receipts", json=body, headers=ph).json()["code"] == "GSP-05"
    assert _counts(engine) == counts


@pytest.mark.refuses("GSP-05")
def test_the_approver_is_not_the_inspector_nor_another_account_of_theirs(shop: Shop, engine: Engine,
                                                                       ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    with core_unit(engine) as u:
        users.add_user(u, ctx, "u_both", "药师兼店长", "5151", {Role.PHARMACIST, Role.MANAGER}, ID_A)
        users.add_user(u, ctx, "u_insp", "验收药师", "5252", {Role.PHARMACIST}, ID_B)
        users.add_user(u, ctx, "u_insp_mgr", "验收药师的店长账号", "5353", {Role.MANAGER}, ID_B)
    both, insp, insp_mgr = login(c, "u_both", "5151"), login(c, "u_insp", "5252"), login(c, "u_insp_mgr", "5353")
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"]])

    def inspected(by: dict[str, str]) -> int:
        rid = int(_receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today)]).json()["id"])
        ok = c.post(f"/receipts/{rid}/inspection", json={"verdicts": [{"line_no": 1, "outcome": "accepted"}]},
                    headers=by)
        assert ok.status_code == 200, ok.text
        return rid

    stock = _sellable(engine, ctx, items["vitc"])
    first, second = inspected(both), inspected(insp)
    draft = int(_receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today)]).json()["id"])
    counts = _counts(engine)
    for rid, by in ((first, both), (second, insp_mgr)):  # the inspector's own account; their other account
        same = c.post(f"/receipts/{rid}/approve", json={}, headers=by)
        assert same.status_code == 403 and same.json()["code"] == "GSP-05", same.text
    not_inspected = c.post(f"/receipts/{draft}/approve", json={}, headers=mg)  # skipping the inspection
    assert not_inspected.status_code == 409 and not_inspected.json()["code"] == "GSP-05"
    assert c.post(f"/receipts/{second}/approve", json={}, headers=ph).status_code == 403  # not the person in charge
    assert _counts(engine) == counts and _sellable(engine, ctx, items["vitc"]) == stock
    # another person in charge approves
    assert c.post(f"/receipts/{second}/approve", json={}, headers=mg).status_code == 200
    assert c.post(f"/receipts/{first}/approve", json={}, headers=insp_mgr).status_code == 200
    assert _sellable(engine, ctx, items["vitc"]) == stock + 20
    _verifies(engine, ctx)


@pytest.mark.refuses("GSP-05")
def test_nothing_of_a_receipt_is_sold_until_it_is_approved(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, today = shop["client"], shop["pharmacist"], shop["manager"], shop["clock"].today
    new_item = c.post("/items", json={"code": "YP0100", "name": "板蓝根颗粒", "spec": "10g*20袋",
                                      "approval_no": "国药准字Z1", "gsp_class": "otc_a", "route": "internal",
                                      "price_fen": 1500, "barcodes": ["6905678901236"], "zone_code": "Z-OTC"},
                      headers=mg)
    assert new_item.status_code == 201, new_item.text
    item = int(new_item.json()["id"])
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [item])
    rid = _receipt(c, ph, sup, [_line(item, "Z-OTC", 6, 900, today=today)]).json()["id"]
    sale = new_sale(c, shop["cashier"])
    entered = scan(c, shop["cashier"], sale, "6905678901236")
    assert entered.status_code == 409 and entered.json()["code"] == "GSP-05", entered.text
    assert f"{rid}" in entered.json()["message_zh"]
    c.post(f"/receipts/{rid}/inspection", json={"verdicts": [{"line_no": 1, "outcome": "accepted"}]}, headers=ph)
    inspected = scan(c, shop["cashier"], sale, "6905678901236")  # inspected, not approved: still not for sale
    assert inspected.status_code == 409 and inspected.json()["code"] == "GSP-05"
    assert _sellable(engine, ctx, item) == 0
    assert c.post(f"/receipts/{rid}/approve", json={}, headers=mg).status_code == 200
    assert scan(c, shop["cashier"], sale, "6905678901236").status_code == 201


@pytest.mark.refuses("GSP-05")
def test_a_rejected_line_never_enters_stock(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"]])
    rid = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", 7, today=today)]).json()["id"]
    no_reason = c.post(f"/receipts/{rid}/inspection", json={"verdicts": [{"line_no": 1, "outcome": "rejected"}]},
                       headers=ph)
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "GSP-05"  # a rejection says why
    assert c.post(f"/receipts/{rid}/inspection", json={"verdicts": [
        {"line_no": 1, "outcome": "rejected", "reason": "冷链断链"}]}, headers=ph).status_code == 200
    stock = _sellable(engine, ctx, items["vitc"])
    # inspected again to turn the rejection into an acceptance: refused, before and after the approval
    again = {"verdicts": [{"line_no": 1, "outcome": "accepted"}]}
    assert c.post(f"/receipts/{rid}/inspection", json=again, headers=ph).json()["code"] == "GSP-05"
    assert c.post(f"/receipts/{rid}/approve", json={}, headers=mg).status_code == 200
    counts = _counts(engine)
    assert c.post(f"/receipts/{rid}/inspection", json=again, headers=ph).json()["code"] == "GSP-05"
    assert c.post(f"/receipts/{rid}/approve", json={}, headers=mg).json()["code"] == "GSP-05"  # approved once
    assert _counts(engine) == counts and _sellable(engine, ctx, items["vitc"]) == stock
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM stock_movement WHERE ref_type = 'receipt_line'")).scalar_one() == 0


@pytest.mark.refuses("GSP-02", "GSP-07")
def test_a_batch_lands_only_in_a_zone_that_admits_it(shop: Shop, engine: Engine) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs", "food"], [items["vitc"], items["ice"]])
    counts = _counts(engine)
    for item, zone in ((items["vitc"], "Z-RX"), (items["vitc"], "Z-FOOD"), (items["ice"], "Z-OTC")):
        wrong = _receipt(c, ph, sup, [_line(item, zone, today=today)])
        assert wrong.status_code == 409 and wrong.json()["code"].startswith("GSP-0"), wrong.text
    c.post("/zones", json={"code": "Z-COLD", "name": "冷藏柜", "purpose": "display", "admits": ["otc_a", "otc_b"],
                           "route_group": "internal", "storage": "cold", "odour_prone": False}, headers=mg)
    cold = _receipt(c, ph, sup, [_line(items["vitc"], "Z-COLD", today=today)])  # a normal-storage drug in the fridge
    assert cold.status_code == 409, cold.text
    assert _counts(engine) == counts


@pytest.mark.refuses("GSP-05")
def test_opening_stock_is_the_first_inventory_once_and_never_afterwards(shop: Shop, engine: Engine,
                                                                        ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    first = c.post("/first-inventory", json={"lines": [_line(items["vitc"], "Z-OTC", 3, 200, "L-OPEN", today=today)]},
                   headers=ph)
    assert first.status_code == 201 and first.json()["status"] == "inspected", first.text
    fid = first.json()["id"]
    stock = _sellable(engine, ctx, items["vitc"])
    assert c.post(f"/receipts/{fid}/approve", json={}, headers=ph).status_code == 403  # not the person in charge
    assert c.post(f"/receipts/{fid}/approve", json={}, headers=mg).status_code == 200
    assert _sellable(engine, ctx, items["vitc"]) == stock + 3
    counts = _counts(engine)
    second = c.post("/first-inventory", json={"business_date": (today - timedelta(days=30)).isoformat(),
                                              "lines": [_line(items["vitc"], "Z-OTC", 50, today=today)]}, headers=ph)
    assert second.status_code == 409 and second.json()["code"] == "GSP-05"  # a second, back-dated: refused
    opening = c.post("/batches/opening", json={"item_id": items["vitc"], "batch_no": "B-LATE", "lot_no": "L9",
                                               "manufactured_on": (today - timedelta(days=9)).isoformat(),
                                               "expires_on": (today + timedelta(days=300)).isoformat(),
                                               "cost_fen": 100, "qty": 99}, headers=mg)
    assert opening.status_code == 409 and opening.json()["code"] == "GSP-05"  # the old door is shut
    assert _counts(engine) == counts and _sellable(engine, ctx, items["vitc"]) == stock + 3
    _verifies(engine, ctx)


def test_the_opening_door_shuts_at_the_first_approved_delivery(shop: Shop, engine: Engine) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    body = {"item_id": items["vitc"], "batch_no": "B-EARLY", "lot_no": "L8",
            "manufactured_on": (today - timedelta(days=9)).isoformat(),
            "expires_on": (today + timedelta(days=300)).isoformat(), "cost_fen": 100, "qty": 1}
    assert c.post("/batches/opening", json=body, headers=mg).status_code == 201  # the store is still starting
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"]])
    rid = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today)]).json()["id"]
    c.post(f"/receipts/{rid}/inspection", json={"verdicts": [{"line_no": 1, "outcome": "accepted"}]}, headers=ph)
    assert c.post(f"/receipts/{rid}/approve", json={}, headers=mg).status_code == 200
    assert c.post("/batches/opening", json=body | {"batch_no": "B-LATER"}, headers=mg).json()["code"] == "GSP-05"
    assert c.post("/first-inventory", json={"lines": [_line(items["vitc"], "Z-OTC", today=today)]},
                  headers=ph).json()["code"] == "GSP-05"


def test_a_supplier_s_credit_code_is_checked(shop: Shop) -> None:
    c, mg = shop["client"], shop["manager"]
    bad = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    r = c.post("/suppliers", json={"name": "假码医药", "licence_no": "X", "licence_expiry": "2030-01-01",
                                   "business_licence_no": bad, "scope": ["drugs"]}, headers=mg)
    assert r.status_code == 422 and r.json()["code"] == "GSP-05"
    assert c.post("/suppliers", json={"name": "范围不明", "licence_no": "X", "licence_expiry": "2030-01-01",
                                      "scope": ["weapons"]}, headers=mg).status_code == 422
    assert ROLE_PINS  # (the posts' PINs are the fixture's)


@pytest.mark.refuses("GSP-05")
def test_the_command_line_receives_as_the_api_does(shop: Shop, engine: Engine, ctx: Ctx,
                                                   settings: Any, tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from server.cli import app
    from tests.server.test_duty_cli import _config

    items, today = shop["items"], shop["clock"].today
    config = _config(tmp_path, settings)
    runner = CliRunner()

    def cli(*args: str, pin: str = "") -> Any:
        return runner.invoke(app, [*args, "--config", str(config)], input=pin)

    manager, pharmacist = ("--as", "u_manager"), ("--as", "u_pharmacist")
    added = cli("supplier", "add", "华润医药", "--licence-no", "京AA001", "--licence-expiry",
                (today + timedelta(days=90)).isoformat(), "--scope", "drugs", "--credit-code", USCC, *manager,
                pin="4444\n")
    assert added.exit_code == 0, added.output
    with engine.connect() as conn:
        sup = int(conn.execute(text("SELECT id FROM supplier WHERE name = '华润医药'")).scalar_one())
    delivery = tmp_path / "delivery.json"
    delivery.write_text(json.dumps({"supplier_id": sup, "dynt_no": "SH-1", "purc_invo_no": "FP-1",
                                    "lines": [_line(items["vitc"], "Z-OTC", 4, 150, today=today),
                                              _line(items["vitc"], "Z-OTC", 2, 150, "L-X", today=today)]}),
                        encoding="utf-8")
    not_approved = cli("receipt", "create", str(delivery), *pharmacist, pin="2222\n")
    assert not_approved.exit_code == 1 and "GSP-05" in not_approved.output  # no 首营 yet
    assert cli("supplier", "approve", str(sup), *manager, pin="4444\n").exit_code == 0
    assert cli("supplier", "approve", str(sup), "--item", str(items["vitc"]), *manager, pin="4444\n").exit_code == 0
    made = cli("receipt", "create", str(delivery), *pharmacist, pin="2222\n")
    assert made.exit_code == 0, made.output
    with engine.connect() as conn:
        rid = int(conn.execute(text("SELECT max(id) FROM receipt")).scalar_one())
    inspected = cli("receipt", "inspect", str(rid), "--accept", "1", "--reject", "2:包装破损", *pharmacist,
                    pin="2222\n")
    assert inspected.exit_code == 0 and "rejected 包装破损" in inspected.output, inspected.output
    stock = _sellable(engine, ctx, items["vitc"])
    assert cli("receipt", "approve", str(rid), *pharmacist, pin="2222\n").exit_code == 1  # not the person in charge
    approved = cli("receipt", "approve", str(rid), *manager, pin="4444\n")
    assert approved.exit_code == 0 and "approved" in approved.output, approved.output
    assert _sellable(engine, ctx, items["vitc"]) == stock + 4
    assert cli("receipt", "show", str(rid)).exit_code == 0


def test_a_trace_code_is_received_once_and_amounts_fit_the_ledger(shop: Shop, engine: Engine) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"]])
    code = "81234567890123456789"
    assert _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today, codes=[code])]).status_code == 201
    counts = _counts(engine)
    again = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today, codes=[code])])
    assert again.status_code == 422 and again.json()["code"] == "CODE-TRACE", again.text
    twice = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today, codes=["81234567890123456788"] * 2)])
    assert twice.status_code == 422 and twice.json()["code"] == "CODE-TRACE"
    huge = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", 1_000_000, 100_000_000, today=today)])
    assert huge.status_code == 422 and huge.json()["code"] == "VALIDATION"
    assert _counts(engine) == counts


def test_a_line_at_no_cost_is_a_gift_and_the_first_inventory_counts_expired_goods_unsold(
        shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    old = _line(items["mask"], "Z-DEV", 2, 500, "L-OLD", today=today) | {
        "manufactured_on": (today - timedelta(days=900)).isoformat(),
        "expires_on": (today - timedelta(days=3)).isoformat()}
    first = c.post("/first-inventory", json={"lines": [old]}, headers=ph)
    assert first.status_code == 201, first.text
    mask = _sellable(engine, ctx, items["mask"])
    assert c.post(f"/receipts/{first.json()['id']}/approve", json={}, headers=mg).status_code == 200
    assert _sellable(engine, ctx, items["mask"]) == mask  # counted in, expired: never sold (GSP-06)
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"]])
    expired = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", today=today) | {
        "expires_on": (today - timedelta(days=1)).isoformat()}])
    assert expired.status_code == 409 and expired.json()["code"] == "GSP-06"  # a delivery of an expired lot
    rid = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", 2, 0, "L-GIFT", today=today)]).json()["id"]
    c.post(f"/receipts/{rid}/inspection", json={"verdicts": [{"line_no": 1, "outcome": "accepted"}]}, headers=ph)
    assert c.post(f"/receipts/{rid}/approve", json={}, headers=mg).status_code == 200
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind, qty, cost_fen FROM stock_movement WHERE ref_type = 'receipt_line' "
                                  "ORDER BY id")).all()
    assert [tuple(k) for k in kinds] == [("opening", 2, 1000), ("gift_in", 2, 0)]


def test_goods_go_back_to_the_supplier_by_line_at_their_share_of_the_cost(shop: Shop, engine: Engine,
                                                                          ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"], items["amox"]])
    rid = _receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", 3, 101, today=today),
                                _line(items["amox"], "Z-RX", 1, 800, "L-AMX", today=today),
                                _line(items["vitc"], "Z-OTC", 2, 100, "L-REJ", today=today)]).json()["id"]
    c.post(f"/receipts/{rid}/inspection", json={"verdicts": [
        {"line_no": 1, "outcome": "accepted"}, {"line_no": 2, "outcome": "quarantine", "reason": "待复检"},
        {"line_no": 3, "outcome": "rejected", "reason": "破损"}]}, headers=ph)
    assert c.post(f"/receipts/{rid}/approve", json={}, headers=mg).status_code == 200
    counts = _counts(engine)
    for lines, code in (([{"line_no": 3, "qty": 1}], "GSP-05"),  # rejected: never entered stock
                        ([{"line_no": 1, "qty": 4}], "STOCK"),  # more than the line brought in
                        ([{"line_no": 2, "qty": 1}], "STOCK")):  # it is in quarantine, not on the shelf
        wrong = c.post(f"/receipts/{rid}/returns", json={"reason": "质量问题", "lines": lines}, headers=mg)
        assert wrong.status_code == 409 and wrong.json()["code"] == code, wrong.text
    assert c.post(f"/receipts/{rid}/returns", json={"reason": "x", "lines": [{"line_no": 1, "qty": 1}]},
                  headers=ph).status_code == 403  # the person in charge sends goods back
    assert _counts(engine) == counts
    stock = _sellable(engine, ctx, items["vitc"])
    back = c.post(f"/receipts/{rid}/returns", json={"reason": "近效期退货", "lines": [
        {"line_no": 1, "qty": 1}, {"line_no": 2, "qty": 24, "location": "quarantine"}]}, headers=mg)
    assert back.status_code == 201, back.text
    assert back.json()["purc_invo_no"] == "FP-0001" and _sellable(engine, ctx, items["vitc"]) == stock - 1
    again = c.post(f"/receipts/{rid}/returns", json={"reason": "再退", "lines": [{"line_no": 1, "qty": 3}]}, headers=mg)
    assert again.status_code == 409 and again.json()["details"]["returned"] == 1  # 2 left of the 3
    assert c.post(f"/receipts/{rid}/returns", json={"reason": "再退", "lines": [{"line_no": 1, "qty": 2}]},
                  headers=mg).status_code == 201
    with engine.connect() as conn:
        costs = conn.execute(text("SELECT qty, cost_fen, location FROM stock_movement WHERE kind = 'purchase_return' "
                                  "ORDER BY id")).all()
    # 303 fen of 3 on hand: 101, then the last two take the rest; the whole box of 24 from quarantine: all 800
    assert [tuple(r) for r in costs] == [(-1, -101, "sellable"), (-24, -800, "quarantine"), (-2, -202, "sellable")]
    _verifies(engine, ctx)
