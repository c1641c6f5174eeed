"""The sale lifecycle through the API: open, scan, change, suspend/resume, void, complete, returns."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.db.models.base import id_of
from server.services.context import Ctx
from tests.conftest import (
    BARCODE_AMOX,
    BARCODE_ICE,
    BARCODE_MASK,
    BARCODE_VITC,
    Clock,
    Shop,
    prescribe,
    service_state,
    sqlite_file,
    till_login,
)


def new_sale(c: TestClient, h: dict[str, str]) -> str:
    sid = str(uuid.uuid4())
    r = c.post("/sales", json={"id": sid}, headers=h)
    assert r.status_code == 201, r.text
    return sid


def scan(c: TestClient, h: dict[str, str], sid: str, barcode: str, qty: int = 1, split: bool = False) -> Any:
    return c.post(f"/sales/{sid}/lines", json={"barcode": barcode, "qty": qty, "split": split}, headers=h)


def pay_cash(c: TestClient, h: dict[str, str], sid: str, total: int, tendered: int) -> Any:
    return c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": total,
                                                               "tendered_fen": tendered}]}, headers=h)


@pytest.mark.refuses("RX-01")
@pytest.mark.business_day(postgres=True)
def test_a_cash_sale_end_to_end(shop: Shop, clock: Clock) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC)
    r = scan(c, h, sid, BARCODE_VITC, qty=2)  # the same item again adds to its line
    assert r.status_code == 201 and [(ln["qty"], ln["amount_fen"]) for ln in r.json()["lines"]] == [(3, 1050)]
    r = scan(c, h, sid, BARCODE_AMOX, qty=6, split=True)  # 拆零: six capsules at the split price
    body = r.json()
    assert body["total_fen"] == 1050 + 6 * 60
    assert body["lines"][1]["unit"] == "粒" and body["lines"][1]["unit_price_fen"] == 60
    refused = pay_cash(c, h, sid, body["total_fen"], 2000)  # RX-01: an Rx drug, even for cash, needs a prescription
    assert refused.status_code == 422 and refused.json()["code"] == "RX-01", refused.text
    prescribe(shop, sid, [(shop["items"]["amox"], 6, True)])
    done = pay_cash(c, h, sid, body["total_fen"], 2000)
    assert done.status_code == 200, done.text
    sale = done.json()
    assert sale["status"] == "completed" and sale["change_fen"] == 2000 - 1410
    # numbered in the store's business day (the day counter's row is the store's day), whatever the machine's date
    assert sale["sale_no"] == f"{clock.today:%Y%m%d}-0001" and sale["business_date"] == clock.today.isoformat()
    # stock left by batch, earliest expiry first: the amoxicillin came from the batch expiring in 30 days
    batches = c.get(f"/items/{shop['items']['amox']}/batches", headers=shop["manager"]).json()
    assert {b["batch_no"]: b["stock"] for b in batches} == {"B-AMOX-2": 48 - 6, "B-AMOX-1": 240}


def test_a_retried_completion_returns_the_first_result_and_changes_nothing(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    first = pay_cash(c, h, sid, 700, 1000).json()
    again = pay_cash(c, h, sid, 700, 5000)
    assert again.status_code == 200
    assert again.json()["replayed"] is True and again.json()["sale_no"] == first["sale_no"]
    assert again.json()["change_fen"] == 300
    vitc = c.get(f"/items/{shop['items']['vitc']}", headers=h).json()
    assert vitc["stock"] == 48
    other_till = till_login(c, "u_pharmacist", "2222", "T02")
    c.post("/shifts", json={"float_fen": 0}, headers=other_till)
    taken = pay_cash(c, other_till, sid, 700, 1000)
    assert taken.status_code == 409 and taken.json()["code"] == "SALE-TAKEN"


@pytest.mark.refuses("CARD-01")
def test_tenders_must_add_up_and_only_cash_gives_change(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    short = pay_cash(c, h, sid, 700, 500)
    assert short.status_code == 422 and short.json()["code"] == "TENDER-CASH"
    wrong_sum = pay_cash(c, h, sid, 600, 600)
    assert wrong_sum.status_code == 422 and wrong_sum.json()["code"] == "TENDER-SUM"
    other_change = c.post(f"/sales/{sid}/complete", json={"tenders": [
        {"kind": "other", "amount_fen": 700, "tendered_fen": 800, "reference": "POS123"}]}, headers=h)
    assert other_change.status_code == 422 and other_change.json()["code"] == "TENDER-CHANGE"
    card = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "insurance", "amount_fen": 700}]}, headers=h)
    assert card.status_code == 422 and card.json()["code"] == "CARD-01"  # the card's part only from a settlement
    mixed = c.post(f"/sales/{sid}/complete", json={"tenders": [
        {"kind": "other", "amount_fen": 500, "reference": "银联 8841"},
        {"kind": "cash", "amount_fen": 200, "tendered_fen": 500}]}, headers=h)
    assert mixed.status_code == 200 and mixed.json()["change_fen"] == 300


@pytest.mark.refuses("GSP-06")
@pytest.mark.business_day
def test_expired_and_stopped_batches_are_never_sold(shop: Shop, engine: Engine, ctx: Ctx, clock: Clock) -> None:
    from server.db.uow import core_unit
    from server.services.stock import batches as stock

    with core_unit(engine) as u:  # a batch whose last day is today, store time: still sold today
        stock.add_opening_batch(u, ctx, shop["items"]["mask"], None, "B-MASK-TODAY", "L7",
                                clock.today - timedelta(days=700), clock.today, 500, 1)
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    ok = scan(c, h, sid, BARCODE_MASK, 4)  # the one expiring today and the three of the good batch
    assert ok.status_code == 201, ok.text
    expired = scan(c, h, sid, BARCODE_MASK, 1)  # the fifth would come from the batch that expired yesterday
    assert expired.status_code == 409 and expired.json()["code"] == "GSP-06"
    assert "B-MASK-OLD" in str(expired.json()["details"]) and "过期" in expired.json()["message_zh"]
    stopped = scan(c, h, sid, BARCODE_ICE, 1)
    assert stopped.status_code == 409 and stopped.json()["code"] == "GSP-06"
    assert "抽检不合格" in stopped.json()["message_zh"]
    too_many = scan(c, h, sid, BARCODE_VITC, 51)
    assert too_many.status_code == 409 and too_many.json()["code"] == "STOCK"
    assert too_many.json()["details"]["available"] == 50


@pytest.mark.refuses("SEC-01")
def test_quantity_change_remove_suspend_resume_void(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    lines = scan(c, h, sid, BARCODE_VITC, 1).json()["lines"]
    r = c.patch(f"/sales/{sid}/lines/{lines[0]['id']}", json={"qty": 4}, headers=h)
    assert r.json()["total_fen"] == 1400
    assert c.patch(f"/sales/{sid}/lines/{lines[0]['id']}", json={"qty": 0}, headers=h).status_code == 422
    assert c.patch(f"/sales/{sid}/lines/{lines[0]['id']}", json={"qty": -1}, headers=h).status_code == 422
    amox = scan(c, h, sid, BARCODE_AMOX, 1).json()["lines"][1]
    r = c.delete(f"/sales/{sid}/lines/{amox['id']}", headers=h)
    assert r.status_code == 200 and len(r.json()["lines"]) == 1 and r.json()["total_fen"] == 1400
    assert c.post(f"/sales/{sid}/suspend", headers=h).json()["status"] == "suspended"
    assert scan(c, h, sid, BARCODE_VITC).status_code == 409  # a suspended basket does not change
    listed = c.get("/sales/suspended", headers=h).json()
    assert [x["id"] for x in listed] == [sid]
    t2 = till_login(c, "u_pharmacist", "2222", "T02")
    c.post("/shifts", json={"float_fen": 0}, headers=t2)
    resumed = c.post(f"/sales/{sid}/resume", headers=t2)
    assert resumed.status_code == 200 and resumed.json()["status"] == "open"
    assert c.post(f"/sales/{sid}/resume", headers=h).status_code == 409  # one till wins
    assert scan(c, h, sid, BARCODE_VITC).json()["code"] == "SALE-TILL"
    no_reason = c.post(f"/sales/{sid}/void", json={"reason": ""}, headers=t2)
    assert no_reason.status_code == 422
    assert c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=h).status_code == 403  # cashier
    voided = c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=t2)
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert pay_cash(c, t2, sid, 1400, 1400).status_code == 409


@pytest.mark.refuses("SEC-01")
def test_returns_by_line_back_to_the_batch_and_by_the_original_tender(shop: Shop) -> None:
    c, h, ph = shop["client"], shop["cashier"], shop["pharmacist"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_MASK, 2)
    scan(c, h, sid, BARCODE_VITC, 2)
    sale = c.post(f"/sales/{sid}/complete", json={"tenders": [
        {"kind": "other", "amount_fen": 1000, "reference": "WX-1"},
        {"kind": "cash", "amount_fen": 1680, "tendered_fen": 2000}]}, headers=h).json()
    mask_line = next(ln for ln in sale["lines"] if ln["item_code"] == "FY0001")
    vitc_line = next(ln for ln in sale["lines"] if ln["item_code"] == "YP0002")
    body = {"id": str(uuid.uuid4()), "sale_id": sid, "reason": "包装破损",
            "lines": [{"sale_line_id": mask_line["id"], "qty": 1}]}
    assert c.post("/returns", json=body, headers=h).status_code == 403  # cashiers do not refund (SEC-01)
    r = c.post("/returns", json=body, headers=ph)
    assert r.status_code == 201, r.text
    ret = r.json()
    assert ret["total_fen"] == 990 and ret["refunds"] == [{"kind": "other", "amount_fen": 990, "reference": "WX-1"}]
    assert c.post("/returns", json=body, headers=ph).json() == ret  # a retry changes nothing
    too_many = c.post("/returns", json=body | {"id": str(uuid.uuid4()), "lines": [
        {"sale_line_id": mask_line["id"], "qty": 2}]}, headers=ph)
    assert too_many.status_code == 409 and too_many.json()["code"] == "RETURN-QTY"
    # the device (a non-drug) goes back on its batch as sellable stock
    mask = {b["batch_no"]: b["stock"] for b in c.get(f"/items/{shop['items']['mask']}/batches",
                                                      headers=shop["manager"]).json()}
    assert mask["B-MASK-NEW"] == 2
    # a returned drug goes to quarantine by the store's policy: not sellable again until inspected
    r = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "买错了",
                                 "lines": [{"sale_line_id": vitc_line["id"], "qty": 2}]}, headers=ph)
    assert r.json()["to_quarantine"] is True
    assert r.json()["refunds"] == [{"kind": "other", "amount_fen": 10, "reference": "WX-1"},
                                   {"kind": "cash", "amount_fen": 690, "reference": ""}]
    assert c.get(f"/items/{shop['items']['vitc']}", headers=h).json()["stock"] == 48
    after = c.get(f"/sales/{sid}", headers=h).json()
    assert {ln["item_code"]: ln["returned_qty"] for ln in after["lines"]} == {"FY0001": 1, "YP0002": 2}


def test_shift_close_and_z_report(shop: Shop, clock: Clock) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    pay_cash(c, h, sid, 700, 1000)
    open_one = new_sale(c, h)
    scan(c, h, open_one, BARCODE_VITC)
    blocked = c.post(f"/shifts/{shop['shift_id']}/close", json={"counted_cash_fen": 20700}, headers=h)
    assert blocked.status_code == 409 and blocked.json()["code"] == "SHIFT-OPEN-SALES"
    c.post(f"/sales/{open_one}/suspend", headers=h)
    z = c.post(f"/shifts/{shop['shift_id']}/close", json={"counted_cash_fen": 20650}, headers=h)
    assert z.status_code == 200, z.text
    rep = z.json()
    assert rep["sales_count"] == 1 and rep["by_tender"] == {"cash": 700}
    assert rep["cash_expected_fen"] == 20700 and rep["variance_fen"] == -50
    assert rep["business_date"] == clock.today.isoformat()  # the shift's day is the store's
    r = c.post("/sales", json={"id": str(uuid.uuid4())}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "SHIFT-CLOSED"  # a closed shift takes no more sales
    assert c.get(f"/shifts/{shop['shift_id']}/report", headers=shop["manager"]).json() == rep


@pytest.mark.refuses("CARD-06")
def test_selling_needs_a_registered_till(shop: Shop) -> None:
    from tests.conftest import login

    c = shop["client"]
    nowhere = login(c, "u_cashier", "1111")
    r = c.post("/sales", json={"id": str(uuid.uuid4())}, headers=nowhere)
    assert r.status_code == 403 and r.json()["code"] == "CARD-06"
    assert c.post("/sales", json={"id": "not-a-uuid"}, headers=shop["cashier"]).status_code == 422


def test_an_empty_open_sale_does_not_block_the_close(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    empty = new_sale(c, h)
    assert scan(c, h, empty, BARCODE_ICE).status_code == 409  # refused: the sale stays open and empty
    voided = new_sale(c, h)  # a real void: a line on it, voided by the pharmacist
    scan(c, h, voided, BARCODE_VITC)
    assert c.post(f"/sales/{voided}/void", json={"reason": "顾客不要了"}, headers=shop["pharmacist"]).status_code == 200
    z = c.post(f"/shifts/{shop['shift_id']}/close", json={"counted_cash_fen": 20000}, headers=h)
    assert z.status_code == 200, z.text
    assert (z.json()["voids_count"], z.json()["voids_fen"]) == (1, 350)  # the empty sale is no void on the Z report
    gone = c.get(f"/sales/{empty}", headers=h).json()
    assert gone["status"] == "voided" and gone["void_reason"] == "空单，随结班关闭"
    entries = c.get("/audit", params={"limit": 500}, headers=shop["manager"]).json()
    assert any(e["action"] == "sale.void_empty" and e["entity_id"] == empty for e in entries)


@pytest.mark.refuses("GSP-02")
def test_gsp_an_item_not_placed_in_an_admitting_zone_is_not_sold_until_fixed(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    from datetime import timedelta

    from server.db.uow import core_unit
    from server.services.catalog import items as catalog_service
    from server.services.stock import batches as stock

    with core_unit(engine) as u:
        item = catalog_service.create_item(u, ctx, {"code": "YP0077", "name": "板蓝根颗粒", "spec": "10g*20袋",
                                                    "approval_no": "国药准字Z1", "gsp_class": "otc_a",
                                                    "route": "internal", "price_fen": 1580}, ["6907777777774"], None)
        stock.add_opening_batch(u, ctx, id_of(item), None, "B-BLG", "L7", ctx.today - timedelta(days=10),
                                ctx.today + timedelta(days=300), 800, 10)
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    unplaced = scan(c, h, sid, "6907777777774")
    assert unplaced.status_code == 422 and unplaced.json()["code"] == "GSP-02", unplaced.text
    wrong = c.put(f"/items/{item.id}/zone", json={"zone_code": "Z-FOOD"}, headers=shop["manager"])
    assert wrong.status_code == 422  # a drug never goes on the food shelf (GSP-01/02)
    assert c.put(f"/items/{item.id}/zone", json={"zone_code": "Z-OTC"}, headers=shop["manager"]).status_code == 200
    assert scan(c, h, sid, "6907777777774").status_code == 201


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_return_finds_its_stock_movements_by_reference_not_by_reading_the_ledger(shop: Shop) -> None:
    """The ledger grows by every line sold: a return looks up what its line took by index (SQLite's plan)."""
    c, h, ph = shop["client"], shop["cashier"], shop["pharmacist"]
    engine = service_state(c).engine
    sid = new_sale(c, h)
    sale = scan(c, h, sid, BARCODE_MASK, 2).json()
    assert pay_cash(c, h, sid, sale["total_fen"], sale["total_fen"]).status_code == 200
    seen: list[tuple[str, Any]] = []

    def reads(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "stock_movement" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", reads)
    try:
        r = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "包装破损",
                                     "lines": [{"sale_line_id": sale["lines"][0]["id"], "qty": 1}]}, headers=ph)
    finally:
        sa.event.remove(engine, "before_cursor_execute", reads)
    assert r.status_code == 201, r.text
    assert seen, "the return reads the stock movements of its line"
    with closing(sqlite3.connect(sqlite_file(engine))) as plain:  # sqlite3's own `with` would not close it
        for statement, parameters in seen:
            plan = " / ".join(row[-1] for row in plain.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "SCAN stock_movement" not in plan, f"{statement}\n→ {plan}"


@pytest.mark.refuses("RX-01")
def test_readiness_lists_every_refusal_the_completion_would_give_and_nothing_once_it_may_be_paid(
        shop: Shop, engine: Any, ctx: Any) -> None:
    from tests.server.test_trace_codes import CODE1, CODE2, trace, traced

    traced(engine, ctx, shop["items"]["vitc"])
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    r = c.get(f"/sales/{sid}/readiness", headers=h)
    assert r.status_code == 200 and r.json()["ready"] is False
    assert [m["code"] for m in r.json()["missing"]] == ["SALE-EMPTY"]  # the sale's own refusal is alone
    scan(c, h, sid, BARCODE_AMOX)
    line = scan(c, h, sid, BARCODE_VITC, qty=2).json()["lines"][1]
    missing = c.get(f"/sales/{sid}/readiness", headers=h).json()["missing"]
    assert [m["code"] for m in missing] == ["RX-01", "TRACE-MISSING"]  # both, in the completion's order
    assert "维生素C片 需扫描 2 个追溯码" in missing[1]["message_zh"]
    refusal = pay_cash(c, h, sid, 1250 + 700, 5000)  # the completion refuses with the first, the same body
    assert refusal.status_code == 422 and {k: refusal.json()[k] for k in ("code", "message_zh")} == {
        k: missing[0][k] for k in ("code", "message_zh")}
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open"  # asking changed nothing

    prescribe(shop, sid, [(shop["items"]["amox"], 1, False)])
    for code in (CODE1, CODE2):
        assert trace(shop, sid, line["id"], code).status_code == 201
    assert c.get(f"/sales/{sid}/readiness", headers=h).json() == {"ready": True, "missing": []}
    assert pay_cash(c, h, sid, 1250 + 700, 5000).status_code == 200
    r = c.get(f"/sales/{sid}/readiness", headers=h).json()
    assert r["ready"] is False and r["missing"][0]["code"] == "SALE-STATE"  # paid: nothing more to pay
