"""Losses (报损, 过期报损), destruction (销毁) before two witnesses, recalls (召回) with their buyers, the monthly
upkeep (养护, GSP-06) and the near-expiry pull list, through the API. Each refusal walked around the way someone
trying would, and shown to write nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from server import audit
from server.db.uow import core_unit, read_session
from server.roles import Role
from server.services.context import Ctx
from server.services.stock import batches as stock
from server.services.store import users
from tests.conftest import BARCODE_AMOX, BARCODE_VITC, ROLE_PINS, Shop, login
from tests.server.test_selling import new_sale, pay_cash, scan

ID_A = "110101199003070011"
TABLES = ("stock_loss", "stock_loss_line", "stock_movement", "recall", "upkeep", "upkeep_line")


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES)


def _batch(engine: Engine, batch_no: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT b.id, b.status, b.stop_reason, COALESCE(bb.qty, 0), COALESCE(bb.cost_fen, 0) "
                                "FROM batch b LEFT JOIN batch_balance bb ON bb.batch_id = b.id "
                                "AND bb.location = 'sellable' WHERE b.batch_no = :no"), {"no": batch_no}).one()
    return {"id": int(row[0]), "status": row[1], "stop_reason": row[2], "qty": int(row[3]), "cost": int(row[4])}


def _verifies(engine: Engine, ctx: Ctx) -> None:
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]


def _loss(c: Any, h: dict[str, str], kind: str, batch: int, qty: int, reason: str = "外包装破损", **more: Any) -> Any:
    return c.post("/losses", json={"kind": kind, "reason": reason, "lines": [{"batch_id": batch, "qty": qty}]} | more,
                  headers=h)


@pytest.mark.refuses("ST-01", "GSP-06")
def test_damage_and_expiry_write_offs_say_why_and_leave_at_cost(shop: Shop, engine: Engine,
                                                                 ctx: Ctx) -> None:
    c, ph = shop["client"], shop["pharmacist"]
    vitc, old_mask = _batch(engine, "B-VITC-1"), _batch(engine, "B-MASK-OLD")
    before = _counts(engine)
    no_reason = _loss(c, ph, "damage", vitc["id"], 2, reason=" ")
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "ST-01", no_reason.text
    # a good batch is no expiry write-off: the way round a damage's reason is refused (GSP-06)
    not_expired = _loss(c, ph, "expiry_writeoff", vitc["id"], 2, reason="过期")
    assert not_expired.status_code == 409 and not_expired.json()["code"] == "GSP-06", not_expired.text
    assert c.post("/losses", json={"kind": "damage", "reason": "x", "lines": [{"batch_id": vitc["id"], "qty": 2}]},
                  headers=shop["cashier"]).status_code == 403  # not the cashier's to write off
    assert _counts(engine) == before and _batch(engine, "B-VITC-1") == vitc
    damaged = _loss(c, ph, "damage", vitc["id"], 2)
    assert damaged.status_code == 201, damaged.text
    assert _batch(engine, "B-VITC-1")["qty"] == 48 and _batch(engine, "B-VITC-1")["cost"] == vitc["cost"] - 400
    expired = _loss(c, ph, "expiry_writeoff", old_mask["id"], 5, reason="已过期")
    assert expired.status_code == 201, expired.text
    assert (_batch(engine, "B-MASK-OLD")["qty"], _batch(engine, "B-MASK-OLD")["cost"]) == (0, 0)
    with engine.connect() as conn:
        moved = conn.execute(text("SELECT kind, qty, cost_fen, retail_fen FROM stock_movement "
                                  "WHERE ref_type = 'loss_line' ORDER BY id")).all()
    assert [tuple(m) for m in moved] == [("damage", -2, -400, -700), ("expiry_writeoff", -5, -2500, -4950)]
    # more than the batch holds: refused by the ledger, nothing written
    now = _counts(engine)
    assert _loss(c, ph, "damage", vitc["id"], 49).status_code == 409
    assert _counts(engine) == now
    _verifies(engine, ctx)


@pytest.mark.refuses("GSP-06")
def test_a_destruction_needs_its_method_and_two_other_persons_as_witnesses(shop: Shop, engine: Engine,
                                                                          ctx: Ctx) -> None:
    c, ph = shop["client"], shop["pharmacist"]
    with core_unit(engine) as u:
        users.add_user(u, ctx, "u_ph_a", "销毁药师", "5151", {Role.PHARMACIST}, ID_A)
        users.add_user(u, ctx, "u_cashier_a", "销毁药师的收银账号", "5252", {Role.CASHIER}, ID_A)
    ph_a = login(c, "u_ph_a", "5151")
    ice = _batch(engine, "B-ICE-1")
    cashier = {"username": "u_cashier", "pin": ROLE_PINS["cashier"]}
    manager = {"username": "u_manager", "pin": ROLE_PINS["manager"]}
    self_witness = {"username": "u_cashier_a", "pin": "5252"}  # the destroyer's own other account
    before = _counts(engine)
    for witnesses, method in (([], "焚烧"), ([cashier], "焚烧"), ([cashier, manager], " "), ([cashier, self_witness], "焚烧"),
                              ([cashier, cashier], "焚烧")):
        r = _loss(c, ph_a, "destruction", ice["id"], 4, reason="抽检不合格", method=method, witnesses=witnesses)
        assert r.status_code == 409 and r.json()["code"] == "GSP-06", (witnesses, method, r.text)
    wrong_pin = _loss(c, ph_a, "destruction", ice["id"], 4, reason="抽检不合格", method="焚烧",
                      witnesses=[cashier, manager | {"pin": "0000"}])
    assert wrong_pin.status_code == 403 and wrong_pin.json()["code"] == "GSP-06"
    assert _counts(engine) == before and _batch(engine, "B-ICE-1") == ice
    done = _loss(c, ph, "destruction", ice["id"], 4, reason="抽检不合格", method="焚烧", witnesses=[cashier, manager])
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["method"] == "焚烧" and body["witness_1"] and body["witness_2"] and body["witness_1"] != body["witness_2"]
    assert _batch(engine, "B-ICE-1")["qty"] == 0
    assert c.get(f"/losses/{body['id']}", headers=ph).json()["lines"] == body["lines"]
    _verifies(engine, ctx)


@pytest.mark.refuses("GSP-06")
def test_a_recall_stops_its_batch_lists_its_buyers_and_its_stock_goes_back(shop: Shop, engine: Engine,
                                                                         ctx: Ctx) -> None:
    c, ph, cashier = shop["client"], shop["pharmacist"], shop["cashier"]
    vitc = _batch(engine, "B-VITC-1")
    sales = []
    for qty in (3, 2):
        sid = new_sale(c, cashier)
        assert scan(c, cashier, sid, BARCODE_VITC, qty).status_code == 201
        done = pay_cash(c, cashier, sid, 350 * qty, 350 * qty)
        assert done.status_code == 200, done.text
        sales.append(done.json())
    started = c.post("/recalls", json={"batch_id": vitc["id"], "reason": "生产企业主动召回", "notice_no": "ZH-2026-01"},
                     headers=ph)
    assert started.status_code == 201, started.text
    recall = started.json()
    assert [(b["sale_no"], b["qty"], b["insured_name"]) for b in recall["buyers"]] == [
        (sales[0]["sale_no"], 3, None), (sales[1]["sale_no"], 2, None)]
    assert _batch(engine, "B-VITC-1")["status"] == "stopped" and "召回" in _batch(engine, "B-VITC-1")["stop_reason"]
    # the batch can no longer be sold
    sid = new_sale(c, cashier)
    assert scan(c, cashier, sid, BARCODE_VITC, 1).json()["code"] == "GSP-06"
    # returning the recalled stock: only the recall's batch, under the recall
    amox = _batch(engine, "B-AMOX-1")
    before = _counts(engine)
    other = _loss(c, ph, "recall", amox["id"], 1, reason="召回退回", recall_id=recall["id"])
    assert other.status_code == 409 and other.json()["code"] == "GSP-06"
    assert _counts(engine) == before
    back = _loss(c, ph, "recall", vitc["id"], 45, reason="召回退回生产企业", recall_id=recall["id"])
    assert back.status_code == 201, back.text
    assert _batch(engine, "B-VITC-1")["qty"] == 0
    assert c.get(f"/recalls/{recall['id']}", headers=ph).json()["buyers"] == recall["buyers"]
    _verifies(engine, ctx)


@pytest.mark.refuses("GSP-06")
def test_the_monthly_upkeep_records_each_batch_and_a_doubt_stops_it_until_cleared(shop: Shop,
                                                                                  engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    with core_unit(engine) as u:
        made = today - timedelta(days=30)
        for no in ("B-Z-1", "B-Z-2"):
            stock.add_opening_batch(u, ctx, items["vitc"], None, no, "L" + no, made, today + timedelta(days=400), 200,
                                    10, zone_code="Z-OTC")
    due = {z["zone"] for z in c.get("/upkeep/due", headers=mg).json()}
    assert due == {"Z-RX", "Z-OTC", "Z-DEV", "Z-FOOD"}
    z1, z2 = _batch(engine, "B-Z-1"), _batch(engine, "B-Z-2")
    seen = {"appearance": "完好", "packaging": "完好", "storage": "常温 18℃ 湿度 55%"}
    before = _counts(engine)
    for checks in ([{"batch_id": z1["id"], "appearance": "", "packaging": "完好", "storage": "常温"}],
                   [{"batch_id": z1["id"], "outcome": "doubt"} | seen]):  # nothing seen; a doubt that says nothing
        r = c.post("/upkeep", json={"zone_code": "Z-OTC", "checks": checks}, headers=ph)
        assert r.status_code == 422 and r.json()["code"] == "GSP-06", r.text
    assert _counts(engine) == before and _batch(engine, "B-Z-2")["status"] == "active"
    rec = c.post("/upkeep", json={"zone_code": "Z-OTC", "checks": [
        {"batch_id": z1["id"]} | seen, {"batch_id": z2["id"], "outcome": "doubt", "note": "片剂变色"} | seen]},
                 headers=ph)
    assert rec.status_code == 201, rec.text
    assert _batch(engine, "B-Z-2")["status"] == "stopped" and _batch(engine, "B-Z-1")["status"] == "active"
    assert {z["zone"] for z in c.get("/upkeep/due", headers=mg).json()} == {"Z-RX", "Z-DEV", "Z-FOOD"}
    doubt = rec.json()["lines"][1]
    assert c.post(f"/upkeep/lines/{doubt['id']}/clear", json={"reason": " "}, headers=mg).json()["code"] == "GSP-06"
    assert _batch(engine, "B-Z-2")["status"] == "stopped"
    cleared = c.post(f"/upkeep/lines/{doubt['id']}/clear", json={"reason": "复检合格：批次颜色为正常批间差异"}, headers=mg)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["cleared_by"] is not None and cleared.json()["cleared_reason"].startswith("复检合格")
    assert _batch(engine, "B-Z-2")["status"] == "active"
    again = c.post(f"/upkeep/lines/{doubt['id']}/clear", json={"reason": "再次"}, headers=mg)
    assert again.status_code == 409
    # a doubt on a batch that is then recalled: clearing the doubt does not lift the recall's stop
    rec2 = c.post("/upkeep", json={"zone_code": "Z-OTC", "checks": [
        {"batch_id": z1["id"], "outcome": "doubt", "note": "包装渗漏"} | seen]}, headers=ph)
    assert rec2.status_code == 201, rec2.text
    assert c.post("/recalls", json={"batch_id": z1["id"], "reason": "企业召回"}, headers=ph).status_code == 201
    line = rec2.json()["lines"][0]
    assert c.post(f"/upkeep/lines/{line['id']}/clear", json={"reason": "渗漏为外包装"}, headers=mg).status_code == 200
    assert _batch(engine, "B-Z-1")["status"] == "stopped"
    _verifies(engine, ctx)


def test_the_near_expiry_pull_list_follows_the_configured_days(shop: Shop, engine: Engine,
                                                               ctx: Ctx) -> None:
    c, mg, items, today = shop["client"], shop["manager"], shop["items"], shop["clock"].today
    with core_unit(engine) as u:
        made = today - timedelta(days=300)
        stock.add_opening_batch(u, ctx, items["vitc"], None, "B-NEAR", "LN", made, today + timedelta(days=60), 200, 7,
                                zone_code="Z-OTC")
        stock.add_opening_batch(u, ctx, items["vitc"], None, "B-FAR", "LF", made, today + timedelta(days=200), 200, 7,
                                zone_code="Z-OTC")
    days = ctx.settings.rules.near_expiry_days
    assert days == 90
    listed = {r["batch_no"]: r for r in c.get("/near-expiry", headers=mg).json()}
    # B-AMOX-2 expires in 30 days, B-NEAR in 60, B-MASK-OLD expired yesterday; B-FAR (200) and the rest are not due
    assert set(listed) == {"B-AMOX-2", "B-NEAR", "B-MASK-OLD"}
    assert listed["B-NEAR"]["days_left"] == 60 and listed["B-NEAR"]["zone"] == "Z-OTC"
    assert listed["B-MASK-OLD"]["expired"] and not listed["B-NEAR"]["expired"]
    assert [r["batch_no"] for r in c.get("/near-expiry", params={"zone": "Z-OTC"}, headers=mg).json()] == ["B-NEAR"]


def test_a_scan_warns_when_the_batch_sold_first_is_near_expiry(shop: Shop, engine: Engine) -> None:
    """GSP-06: the scan's answer carries a warning (not a refusal) when the batch FEFO takes first expires within
    near_expiry_days: 阿莫西林's B-AMOX-2 expires in 30 days; 维生素C's only batch in 500."""
    c, cashier, today = shop["client"], shop["cashier"], shop["clock"].today
    sid = new_sale(c, cashier)
    amox = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_AMOX, "qty": 1}, headers=cashier)
    assert amox.status_code == 201, amox.text
    [warning] = amox.json()["warnings"]
    assert warning["code"] == "GSP-06" and "近效期" in warning["message_zh"] and "L2" in warning["message_zh"]
    assert warning["details"] == {"lot_no": "L2", "expires_on": (today + timedelta(days=30)).isoformat(),
                                  "days_left": 30}
    vitc = scan(c, cashier, sid, BARCODE_VITC, 1)
    assert vitc.status_code == 201 and vitc.json()["warnings"] == []
    # once the near batch is gone (written off), the batch taken first is the far one: no warning
    with engine.connect() as conn:
        near = conn.execute(text("SELECT id FROM batch WHERE batch_no = 'B-AMOX-2'")).scalar_one()
    assert _loss(c, shop["pharmacist"], "damage", near, 48, reason="受潮").status_code == 201
    again = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_AMOX, "qty": 1}, headers=cashier)
    assert again.status_code == 201 and again.json()["warnings"] == []
