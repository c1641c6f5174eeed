"""Counts (盘点) through the API: a sheet at a snapshot while the store keeps selling, counted blind, submitted by
the counter and posted by a person in charge who did not count it, as 盘盈/盘亏 movements at cost. Each refusal
walked around the way someone trying would, and shown to write nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server import audit
from server.db.uow import core_unit, read_session
from server.roles import Role
from server.services.context import Ctx
from server.services.stock import batches as stock
from server.services.store import users
from tests.conftest import BARCODE_VITC, Shop, login
from tests.server.test_selling import new_sale, pay_cash, scan

ID_A = "110101199003070011"


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                     for t in ("count_sheet", "count_line", "stock_movement"))


def _posted_state(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT COUNT(*) FROM stock_movement")).scalar_one(),
                tuple(conn.execute(text("SELECT status, posted_by FROM count_sheet ORDER BY id")).all()))


def _balance(engine: Engine, batch_no: str) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT bb.qty, bb.cost_fen FROM batch_balance bb JOIN batch b ON b.id = bb.batch_id "
                                "WHERE b.batch_no = :no AND bb.location = 'sellable'"), {"no": batch_no}).one()
    return int(row[0]), int(row[1])


def _by_no(sheet: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ln["batch_no"]: ln for ln in sheet["lines"]}


def _verifies(engine: Engine, ctx: Ctx) -> None:
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]


def _count_as_book(c: TestClient, h: dict[str, str], sheet: dict[str, Any], book: dict[str, int],
                   **different: int) -> None:
    entries = [{"batch_no": no, "loose": different.get(no.replace("-", "_"), qty)} for no, qty in book.items()]
    r = c.post(f"/counts/{sheet['id']}/entries", json={"entries": entries}, headers=h)
    assert r.status_code == 200, r.text


BOOK = {"B-AMOX-1": 240, "B-AMOX-2": 48, "B-VITC-1": 50, "B-MASK-OLD": 5, "B-MASK-NEW": 3, "B-ICE-1": 4}


@pytest.mark.refuses("ST-01", "ST-02")
def test_a_blind_count_while_selling_posts_its_variances_at_cost_once(shop: Shop, engine: Engine,
                                                                     ctx: Ctx) -> None:
    c, ph, mg = shop["client"], shop["pharmacist"], shop["manager"]
    made = c.post("/counts", json={"blind": True, "note": "月末盘点"}, headers=ph)
    assert made.status_code == 201, made.text
    sheet = made.json()
    assert set(_by_no(sheet)) == set(BOOK)
    assert all(ln["book_qty"] is None and ln["variance"] is None for ln in sheet["lines"])  # blind: no book shown
    assert all(ln["book_qty"] is None for ln in c.get(f"/counts/{sheet['id']}", headers=mg).json()["lines"])
    # the store keeps selling after the snapshot: 2 of 维生素C
    sid = new_sale(c, shop["cashier"])
    assert scan(c, shop["cashier"], sid, BARCODE_VITC, 2).status_code == 201
    assert pay_cash(c, shop["cashier"], sid, 700, 700).status_code == 200
    # counted: 48 of 维生素C where the book said 50 at the snapshot (2 lost), 50 of B-AMOX-2 (2 found); B-AMOX-1 by
    # scanning its batch label box by box (9 boxes, then one more)
    _count_as_book(c, ph, sheet, {k: v for k, v in BOOK.items() if k != "B-AMOX-1"}, B_VITC_1=48, B_AMOX_2=50)
    for qty, add in ((9, False), (1, True)):
        r = c.post(f"/counts/{sheet['id']}/entries", json={"entries": [{"batch_no": "B-AMOX-1", "qty": qty,
                                                                        "add": add}]}, headers=ph)
        assert r.status_code == 200, r.text
    assert _by_no(r.json())["B-AMOX-1"]["counted_qty"] == 240 and _by_no(r.json())["B-AMOX-1"]["book_qty"] is None
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph).status_code == 200  # blind: no reasons asked
    before = _counts(engine)
    # the approver must give the variances' reasons (ST-01); the counter may not post (not the person in charge)
    no_reason = c.post(f"/counts/{sheet['id']}/post", json={}, headers=mg)
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "ST-01", no_reason.text
    assert c.post(f"/counts/{sheet['id']}/post", json={}, headers=ph).status_code == 403
    assert _counts(engine) == before
    batch_ids = {ln["batch_no"]: ln["batch_id"] for ln in sheet["lines"]}
    reasons = {str(batch_ids["B-VITC-1"]): "破损未登记", str(batch_ids["B-AMOX-2"]): "上次盘点漏点"}
    posted = c.post(f"/counts/{sheet['id']}/post", json={"reasons": reasons, "note": "同意"}, headers=mg)
    assert posted.status_code == 200, posted.text
    lines = _by_no(posted.json())
    assert posted.json()["status"] == "posted" and lines["B-VITC-1"]["book_qty"] == 50
    assert (lines["B-VITC-1"]["variance"], lines["B-AMOX-2"]["variance"]) == (-2, 2)
    # posted against the book now: 50 - 2 sold - 2 lost; the loss took its share of the cost on hand (48 at 9600)
    assert _balance(engine, "B-VITC-1") == (46, 9600 - 400)
    # the gain came in at the batch's current unit cost: 1600 fen for 48, so 2 at 66.67 -> 67 (half up)
    assert _balance(engine, "B-AMOX-2") == (50, 1667)
    with engine.connect() as conn:
        moved = conn.execute(text("SELECT kind, qty, cost_fen, retail_fen, ref_type FROM stock_movement "
                                  "WHERE ref_type = 'count_line' ORDER BY qty")).all()
    assert [tuple(m) for m in moved] == [("count_loss", -2, -400, -700, "count_line"),
                                         ("count_gain", 2, 67, 104, "count_line")]
    # a second posting of the same sheet, by the same or another person in charge: refused, nothing written
    posted_once = _posted_state(engine)
    with core_unit(engine) as u:
        users.add_user(u, ctx, "u_manager2", "副店长", "4545", {Role.MANAGER})
    for h in (mg, login(c, "u_manager2", "4545")):
        again = c.post(f"/counts/{sheet['id']}/post", json={"reasons": reasons}, headers=h)
        assert again.status_code == 409 and again.json()["code"] == "ST-02", again.text
    # nor can the posted sheet be counted again or re-submitted
    assert c.post(f"/counts/{sheet['id']}/entries", json={"entries": [{"batch_no": "B-VITC-1", "loose": 50}]},
                  headers=ph).json()["code"] == "ST-02"
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph).json()["code"] == "ST-02"
    assert _posted_state(engine) == posted_once
    _verifies(engine, ctx)


@pytest.mark.refuses("SEC-01")
def test_a_count_is_not_approved_by_its_counter_nor_another_account_of_theirs(shop: Shop, engine: Engine,
                                                                            ctx: Ctx) -> None:
    c, ph, mg = shop["client"], shop["pharmacist"], shop["manager"]
    with core_unit(engine) as u:
        users.add_user(u, ctx, "u_ph_a", "盘点药师", "5151", {Role.PHARMACIST}, ID_A)
        users.add_user(u, ctx, "u_mgr_a", "盘点药师的店长账号", "5252", {Role.MANAGER}, ID_A)
    ph_a, mgr_a = login(c, "u_ph_a", "5151"), login(c, "u_mgr_a", "5252")
    sheet = c.post("/counts", json={}, headers=ph).json()
    # the manager counts one batch (a 店长 may count beside the staff), the pharmacist A the rest and submits
    assert c.post(f"/counts/{sheet['id']}/entries", json={"entries": [{"batch_no": "B-VITC-1", "loose": 49,
                                                                       "reason": "破损"}]},
                  headers=mg).status_code == 200
    _count_as_book(c, ph_a, sheet, {k: v for k, v in BOOK.items() if k != "B-VITC-1"})
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph_a).status_code == 200
    before, stock_before = _counts(engine), _balance(engine, "B-VITC-1")
    for h in (mg, mgr_a):  # a counter; the other account of the one who counted and submitted
        same = c.post(f"/counts/{sheet['id']}/post", json={}, headers=h)
        assert same.status_code == 403 and same.json()["code"] == "SEC-01", same.text
    assert _counts(engine) == before and _balance(engine, "B-VITC-1") == stock_before
    assert c.get(f"/counts/{sheet['id']}", headers=mg).json()["status"] == "submitted"
    # another person in charge, who counted nothing, posts it
    with core_unit(engine) as u:
        users.add_user(u, ctx, "u_manager2", "副店长", "4545", {Role.MANAGER})
    ok = c.post(f"/counts/{sheet['id']}/post", json={}, headers=login(c, "u_manager2", "4545"))
    assert ok.status_code == 200, ok.text
    assert _balance(engine, "B-VITC-1")[0] == stock_before[0] - 1
    _verifies(engine, ctx)


@pytest.mark.refuses("ST-01")
def test_a_zone_count_finds_a_batch_at_zero_and_gains_it_at_its_receipt_cost(shop: Shop, engine: Engine,
                                                                           ctx: Ctx) -> None:
    c, ph, mg, today = shop["client"], shop["pharmacist"], shop["manager"], shop["clock"].today
    items = shop["items"]
    with core_unit(engine) as u:
        made = today - timedelta(days=30)
        stock.add_opening_batch(u, ctx, items["vitc"], None, "B-Z-1", "LZ1", made, today + timedelta(days=400), 200, 30,
                                zone_code="Z-OTC")
        stock.add_opening_batch(u, ctx, items["vitc"], None, "B-Z-0", "LZ0", made, today + timedelta(days=400), 230, 0,
                                zone_code="Z-OTC")
    sheet = c.post("/counts", json={"zone_code": "Z-OTC"}, headers=ph).json()
    assert [(ln["batch_no"], ln["book_qty"]) for ln in sheet["lines"]] == [("B-Z-1", 30)]  # only the zone's stock
    # a batch of another zone is not this sheet's; the one at zero is found on the shelf: it gets a line
    other = c.post(f"/counts/{sheet['id']}/entries", json={"entries": [{"batch_no": "B-VITC-1", "loose": 1}]},
                   headers=ph)
    assert other.status_code == 422
    r = c.post(f"/counts/{sheet['id']}/entries", json={"entries": [{"batch_no": "B-Z-1", "loose": 30},
                                                                   {"batch_no": "B-Z-0", "loose": 2}]}, headers=ph)
    assert r.status_code == 200, r.text
    assert _by_no(r.json())["B-Z-0"]["book_qty"] == 0 and _by_no(r.json())["B-Z-0"]["variance"] == 2
    # not blind: the counter gives the variance's reason before submitting (ST-01)
    before = _counts(engine)
    refused = c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph)
    assert refused.status_code == 422 and refused.json()["code"] == "ST-01", refused.text
    assert _counts(engine) == before and c.get(f"/counts/{sheet['id']}", headers=ph).json()["status"] == "open"
    c.post(f"/counts/{sheet['id']}/entries", json={"entries": [{"batch_no": "B-Z-0", "loose": 2,
                                                                "reason": "期初漏录"}]}, headers=ph)
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph).status_code == 200
    assert c.post(f"/counts/{sheet['id']}/post", json={}, headers=mg).status_code == 200
    assert _balance(engine, "B-Z-0") == (2, 460)  # at zero: at its receipt cost, 230 fen a unit
    assert _balance(engine, "B-Z-1") == (30, 6000)
    _verifies(engine, ctx)
