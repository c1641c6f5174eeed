"""What the till reads to draw itself: its status bar's facts and a past sale looked up for a return."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.services.context import Ctx
from server.services.store.users import find_user, set_staff_profile
from tests.conftest import BARCODE_MASK, BARCODE_VITC, Clock, Shop
from tests.server.test_selling import new_sale, scan


def test_the_status_names_the_till_the_user_the_shift_and_the_pharmacists_on_duty(
        shop: Shop, engine: Engine, ctx: Ctx, clock: Clock) -> None:
    c, h, ph = shop["client"], shop["cashier"], shop["pharmacist"]
    status = c.get("/till/status", headers=h).json()
    assert status == {"store_name": ctx.settings.store.name, "till_code": "T01", "user": "测试cashier",
                      "shift_id": shop["shift_id"], "business_date": clock.today.isoformat(), "on_duty": []}
    with core_unit(engine) as u:
        user = find_user(orm(u), ctx, "u_pharmacist")
        set_staff_profile(u, ctx, id_of(user), {
            "qualification": "licensed_pharmacist", "qualification_no": "ZY001",
            "qualification_expiry": clock.today + timedelta(days=700), "registered_store_code": ctx.settings.store.fixmedins_code,
            "contract_start": clock.today - timedelta(days=200), "contract_end": clock.today + timedelta(days=400)})
    assert c.post(f"/shifts/{shop['shift_id']}/duty", headers=ph).status_code == 201
    assert c.get("/till/status", headers=h).json()["on_duty"] == ["测试pharmacist"]
    assert c.delete(f"/shifts/{shop['shift_id']}/duty", headers=ph).status_code == 200
    assert c.get("/till/status", headers=h).json()["on_duty"] == []


@pytest.mark.refuses("CARD-06")
def test_the_status_needs_a_registered_till_CARD_06(shop: Shop) -> None:
    r = shop["client"].get("/till/status", headers=shop["manager"])  # logged in without a till
    assert r.status_code == 403 and r.json()["code"] == "CARD-06"


def test_a_sale_found_by_its_receipt_number_shows_what_is_left_to_return_and_where_it_goes_GSP_06(
        shop: Shop, clock: Clock) -> None:
    c, h, ph = shop["client"], shop["cashier"], shop["pharmacist"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_MASK, 2)  # a device: the pharmacist chooses where a return goes
    scan(c, h, sid, BARCODE_VITC, 1)  # a drug: quarantine by the store's policy
    sale = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 2330,
                                                                "tendered_fen": 3000}]}, headers=h).json()
    assert sale["sale_no"] == f"{clock.today:%Y%m%d}-0001"  # the store's day, whatever the machine's
    mask = next(ln["id"] for ln in sale["lines"] if ln["item_code"] == "FY0001")
    found = c.get(f"/returns/for-sale/{sale['sale_no']}", headers=h)  # a cashier may look it up
    assert found.status_code == 200, found.text
    assert found.json()["sale"]["id"] == sid
    assert [(ln["returnable_qty"], ln["quarantine_required"]) for ln in found.json()["lines"]] == [(2, False), (1, True)]
    r = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "包装破损",
                                 "lines": [{"sale_line_id": mask, "qty": 1}]}, headers=ph)
    assert r.status_code == 201, r.text
    again = c.get(f"/returns/for-sale/{sale['sale_no']}", headers=h).json()
    assert [ln["returnable_qty"] for ln in again["lines"]] == [1, 1]


def test_an_unknown_receipt_number_is_a_clear_404(shop: Shop) -> None:
    r = shop["client"].get("/returns/for-sale/20990101-0001", headers=shop["cashier"])
    assert r.status_code == 404 and "20990101-0001" in r.json()["message_zh"]


def test_a_receipt_number_too_long_is_refused_as_input(shop: Shop) -> None:
    r = shop["client"].get("/returns/for-sale/" + "1" * 21, headers=shop["cashier"])
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION"
