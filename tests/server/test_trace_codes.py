"""药品追溯码 at the till: one code per box, 20 digits starting with 8; a box sold once unless it came back;
拆零 reuses the opened box's code; 无码 stock sells without."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine

from server.db.uow import core_unit
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from tests.conftest import BARCODE_AMOX, BARCODE_VITC, Shop, prescribe
from tests.server.test_selling import new_sale, pay_cash, scan

CODE1, CODE2, CODE3 = "81234567890123456781", "81234567890123456782", "81234567890123456783"


def trace(shop: Shop, sid: str, line_id: int, code: str) -> Any:
    return shop["client"].post(f"/sales/{sid}/lines/{line_id}/trace-codes", json={"code": code},
                               headers=shop["cashier"])


def traced(engine: Engine, ctx: Ctx, item_id: int, **more: Any) -> None:
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, item_id, {"traced": True} | more)


def test_each_box_carries_one_valid_code_and_a_sold_box_is_never_sold_again(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    traced(engine, ctx, shop["items"]["vitc"])
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 2).json()["lines"][0]
    for bad in ("71234567890123456781", "8123456789012345678", "8123456789012345678X"):
        r = trace(shop, sid, line["id"], bad)
        assert r.status_code == 422 and r.json()["code"] == "CODE-TRACE", bad
    assert trace(shop, sid, line["id"], CODE1).status_code == 201
    dup = trace(shop, sid, line["id"], CODE1)
    assert dup.status_code == 409 and dup.json()["code"] == "TRACE-DUP"
    missing = pay_cash(c, h, sid, 700, 700)
    assert missing.status_code == 422 and missing.json()["code"] == "TRACE-MISSING"
    r = trace(shop, sid, line["id"], CODE2)
    assert r.json()["lines"][0]["trace_codes"] == [CODE1, CODE2]
    too_many = trace(shop, sid, line["id"], CODE3)
    assert too_many.status_code == 422 and too_many.json()["code"] == "TRACE-COUNT"
    other = new_sale(c, h)
    other_line = scan(c, h, other, BARCODE_VITC, 1).json()["lines"][0]
    taken = trace(shop, other, other_line["id"], CODE1)
    assert taken.status_code == 409 and taken.json()["code"] == "TRACE-TAKEN"
    sale = pay_cash(c, h, sid, 700, 700)
    assert sale.status_code == 200, sale.text
    resold = trace(shop, other, other_line["id"], CODE1)
    assert resold.status_code == 409 and resold.json()["code"] == "TRACE-SOLD" and "调包" in resold.json()["message_zh"]
    back = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "顾客退回一盒",
                                    "lines": [{"sale_line_id": line["id"], "qty": 1}]}, headers=shop["pharmacist"])
    assert back.status_code == 201, back.text
    assert trace(shop, other, other_line["id"], CODE2).status_code == 201  # the box that came back
    assert trace(shop, other, other_line["id"], CODE1).status_code == 422  # one box, one code: already has it
    assert pay_cash(c, h, other, 350, 350).status_code == 200


def test_split_sales_share_the_opened_box_and_code_less_stock_needs_none(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    traced(engine, ctx, shop["items"]["amox"])
    c, h = shop["client"], shop["cashier"]
    for n in range(2):  # two customers, six capsules each, from one opened box
        sid = new_sale(c, h)
        line = scan(c, h, sid, BARCODE_AMOX, 6, split=True).json()["lines"][0]
        assert trace(shop, sid, line["id"], CODE3).status_code == 201, n
        prescribe(shop, sid, [(shop["items"]["amox"], 6, True)], patient_name=f"患者{n}")
        assert pay_cash(c, h, sid, 360, 360).status_code == 200
    whole = new_sale(c, h)
    line = scan(c, h, whole, BARCODE_AMOX, 1).json()["lines"][0]
    opened = trace(shop, whole, line["id"], CODE3)
    assert opened.status_code == 409 and opened.json()["code"] == "TRACE-SOLD"
    traced(engine, ctx, shop["items"]["vitc"], no_code_stock=True)  # 无码库: old stock without codes
    plain = new_sale(c, h)
    scan(c, h, plain, BARCODE_VITC, 1)
    assert pay_cash(c, h, plain, 350, 350).status_code == 200


def test_a_line_with_codes_is_removed_with_them_and_not_cut_below_them(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    traced(engine, ctx, shop["items"]["vitc"])
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 2).json()["lines"][0]
    trace(shop, sid, line["id"], CODE1)
    trace(shop, sid, line["id"], CODE2)
    cut = c.patch(f"/sales/{sid}/lines/{line['id']}", json={"qty": 1}, headers=h)
    assert cut.status_code == 422 and cut.json()["code"] == "TRACE-COUNT"
    gone = c.delete(f"/sales/{sid}/lines/{line['id']}/trace-codes/{CODE2}", headers=h)
    assert gone.status_code == 200 and gone.json()["lines"][0]["trace_codes"] == [CODE1]
    assert c.patch(f"/sales/{sid}/lines/{line['id']}", json={"qty": 1}, headers=h).status_code == 200
    removed = c.delete(f"/sales/{sid}/lines/{line['id']}", headers=h)
    assert removed.status_code == 200 and removed.json()["lines"] == []
    other = new_sale(c, h)
    again = scan(c, h, other, BARCODE_VITC, 1).json()["lines"][0]
    assert trace(shop, other, again["id"], CODE1).status_code == 201  # the removed line let its code go
