"""Every sale line keeps what was true when it was sold (issue #17): the item's class, 医保 category, national
code, mapping upload day, zone and storage, and what its stock cost at the batches' cost.

Written at the scan, written again at completion from what the completion's rules judged (so a change of the
catalog in between is judged by the rules with the facts the line then keeps), final with the sale: a later
change of the catalog or of a batch's cost leaves the line as it was, a return judges by it, the database
refuses an edit of it, and `audit verify` names one made behind the guard. On SQLite and PostgreSQL (the
`shop` fixture runs on both).

The catalog is changed here by hand: what the catalog's own rules let through (controlled facts) is not this
file's concern, only that the line does not follow it.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from server import audit
from server.db.uow import read_session
from server.services.context import Ctx
from server.services.stock.ledger import share
from tests.conftest import BARCODE_AMOX, BARCODE_MASK, BARCODE_VITC, Shop, prescribe
from tests.server.test_selling import new_sale, pay_cash, scan
from tests.tamper import behind_the_guard

KEPT = ("gsp_class", "insurance_category", "nhsa_code", "mapping_uploaded_on", "zone_id", "storage", "cost_fen")
NHSA_VITC = "XA11GAV043A001010100483"


def _line(engine: Engine, line_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT {', '.join(KEPT)} FROM sale_line WHERE id = :i"), {"i": line_id}).one()
    out = dict(row._mapping)
    if isinstance(out["mapping_uploaded_on"], str):  # SQLite hands a raw text back to a textual SELECT
        out["mapping_uploaded_on"] = date.fromisoformat(out["mapping_uploaded_on"])
    return out


def _zone(engine: Engine, code: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM zone WHERE code = :c"), {"c": code}).scalar_one())


def _catalog(engine: Engine, item_id: int, **values: Any) -> None:
    """The catalog changed (by whatever way the store changes it)."""
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE item SET {sets} WHERE id = :id"), values | {"id": item_id})


def _verify(engine: Engine, ctx: Ctx) -> audit.VerifyReport:
    with read_session(engine) as s:
        return audit.verify(s, ctx.store_id)


def _mapped_vitc(engine: Engine, shop: Shop, clock: Any) -> None:
    _catalog(engine, shop["items"]["vitc"], insurance_category="jia", nhsa_code=NHSA_VITC,
             mapping_uploaded_on=clock.today - timedelta(days=10))


def test_an_outflow_takes_its_share_of_the_cost_on_hand_and_the_last_unit_the_rest() -> None:
    assert share(400, 2, 2) == 400
    assert share(800, 24, 5) == 167  # 5 of 24 capsules of an 8.00 box: 1.6667
    assert share(800, 24, 3) == 100  # 1.00 exactly
    assert share(201, 2, 1) == 101  # 100.5: half up
    assert share(1, 4, 1) == 0 and share(1, 4, 2) == 1  # 0.25 down, 0.5 up
    # taken one by one, the shares add up to the cost on hand: nothing lost to rounding, nothing left at zero
    cost, qty, taken = 1000, 7, 0
    while qty:
        part = share(cost, qty, 1)
        cost, qty, taken = cost - part, qty - 1, taken + part
    assert (cost, taken) == (0, 1000)


def test_a_completed_line_keeps_what_was_true_when_sold(shop: Shop, engine: Engine, clock: Any) -> None:
    c, h = shop["client"], shop["cashier"]
    _mapped_vitc(engine, shop, clock)
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    scan(c, h, sid, BARCODE_AMOX, 5, split=True)
    lines = scan(c, h, sid, BARCODE_MASK, 1).json()["lines"]
    prescribe(shop, sid, [(shop["items"]["amox"], 5, True)])
    done = pay_cash(c, h, sid, 2 * 350 + 5 * 60 + 990, 2000)
    assert done.status_code == 200, done.text
    vitc, amox, mask = (ln["id"] for ln in lines)
    sold = {
        vitc: {"gsp_class": "otc_a", "insurance_category": "jia", "nhsa_code": NHSA_VITC,
               "mapping_uploaded_on": clock.today - timedelta(days=10), "zone_id": _zone(engine, "Z-OTC"),
               "storage": "normal", "cost_fen": 2 * 200},
        # 5 capsules from the batch expiring first (8.00 a box of 24): 1.67
        amox: {"gsp_class": "rx", "insurance_category": "none", "nhsa_code": None, "mapping_uploaded_on": None,
               "zone_id": _zone(engine, "Z-RX"), "storage": "normal", "cost_fen": 167},
        # the good batch (the expired one is never sold): 5.00
        mask: {"gsp_class": "device", "insurance_category": "none", "nhsa_code": None, "mapping_uploaded_on": None,
               "zone_id": _zone(engine, "Z-DEV"), "storage": "normal", "cost_fen": 500},
    }
    assert {i: _line(engine, i) for i in sold} == sold
    # Then the catalog and the batches change: class, 医保 category, national code, mapping, zone, storage, cost.
    _catalog(engine, shop["items"]["vitc"], gsp_class="otc_b", insurance_category="yi", nhsa_code="XA99NEW",
             mapping_uploaded_on=None, zone_id=_zone(engine, "Z-DEV"), storage="cool")
    _catalog(engine, shop["items"]["amox"], gsp_class="otc_a", insurance_category="jia", nhsa_code="XA98NEW",
             mapping_uploaded_on=clock.today, zone_id=_zone(engine, "Z-OTC"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE batch SET cost_fen = cost_fen * 3"))
    assert {i: _line(engine, i) for i in sold} == sold
    # the till shows (and the receipt reprints) the class and 医保 mark the line was sold under
    shown = {ln["id"]: (ln["gsp_class"], ln["insurance_label"]) for ln in c.get(f"/sales/{sid}", headers=h).json()["lines"]}
    assert shown[vitc] == ("otc_a", "甲") and shown[amox][0] == "rx"


def test_the_completion_judges_by_the_catalog_now_and_the_line_keeps_that(shop: Shop, engine: Engine,
                                                                           clock: Any) -> None:
    """Scanned unmapped, mapped before it is paid: the line keeps what the completion saw, not the scan."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 1).json()["lines"][0]
    assert _line(engine, line["id"]) | {"cost_fen": None} == {
        "gsp_class": "otc_a", "insurance_category": "none", "nhsa_code": None, "mapping_uploaded_on": None,
        "zone_id": _zone(engine, "Z-OTC"), "storage": "normal", "cost_fen": None}  # the scan's, no cost before stock leaves
    _mapped_vitc(engine, shop, clock)
    assert pay_cash(c, h, sid, 350, 350).status_code == 200
    kept = _line(engine, line["id"])
    assert (kept["insurance_category"], kept["nhsa_code"], kept["cost_fen"]) == ("jia", NHSA_VITC, 200)


@pytest.mark.refuses("RX-01", "GSP-02")
def test_an_item_reclassified_between_scan_and_payment_is_judged_as_it_is_now(shop: Shop,
                                                                              engine: Engine) -> None:
    """Scanned as 甲类OTC, made 处方药 before it is paid: the completion judges it as 处方药 — refused without a
    prescription, and refused while it stands in a zone that does not admit it — never paid under the class
    the scan saw."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 1).json()["lines"][0]
    _catalog(engine, shop["items"]["vitc"], gsp_class="rx")  # still in the OTC zone
    refused = pay_cash(c, h, sid, 350, 350)
    assert refused.status_code == 422, refused.text
    assert "GSP-02" in refused.text
    _catalog(engine, shop["items"]["vitc"], zone_id=_zone(engine, "Z-RX"))
    refused = pay_cash(c, h, sid, 350, 350)
    assert refused.status_code == 422, refused.text
    assert "RX-01" in refused.text
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM sale WHERE id = :s"), {"s": sid}).scalar_one() == "open"
    assert _line(engine, line["id"])["gsp_class"] == "otc_a"  # nothing was kept: nothing was sold


def test_a_return_judges_by_the_class_the_line_was_sold_under(shop: Shop, engine: Engine) -> None:
    """Sold as a drug, made a daily chemical afterwards: the returned box still goes to quarantine (GSP-06's
    store policy), as a drug does, not back on the shelf."""
    c, h, ph = shop["client"], shop["cashier"], shop["pharmacist"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 2).json()["lines"][0]
    paid = pay_cash(c, h, sid, 700, 700)
    assert paid.status_code == 200, paid.text
    _catalog(engine, shop["items"]["vitc"], gsp_class="daily_chemical")
    returnable = c.get(f"/returns/for-sale/{paid.json()['sale_no']}", headers=ph)
    assert returnable.status_code == 200, returnable.text
    assert [ln["quarantine_required"] for ln in returnable.json()["lines"]] == [True]
    back = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "顾客退回",
                                    "lines": [{"sale_line_id": line["id"], "qty": 1}]}, headers=ph)
    assert back.status_code == 201, back.text
    with engine.connect() as conn:
        location = conn.execute(text("SELECT location FROM stock_movement WHERE kind = 'sale_return'")).scalar_one()
    assert location == "quarantine"
    assert _line(engine, line["id"])["gsp_class"] == "otc_a"


_EDITS = [("gsp_class", "'food'"), ("insurance_category", "'yi'"), ("nhsa_code", "'XA00FORGED'"),
          ("mapping_uploaded_on", "'2020-01-01'"), ("storage", "'cool'"), ("cost_fen", "cost_fen + 100"),
          ("zone_id", "NULL")]


@pytest.mark.parametrize(("column", "value"), _EDITS, ids=[c for c, _ in _EDITS])
@pytest.mark.refuses("ST-02", "SEC-04")
def test_what_a_sold_line_kept_cannot_be_edited_and_an_edit_is_named(shop: Shop, engine: Engine, ctx: Ctx,
                                                                   clock: Any, column: str, value: str) -> None:
    c, h = shop["client"], shop["cashier"]
    _mapped_vitc(engine, shop, clock)
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 2).json()["lines"][0]
    assert pay_cash(c, h, sid, 700, 700).status_code == 200
    # the catalog was changed by hand above (behind its own audit): only the sale's rows are judged here
    report = _verify(engine, ctx)
    assert {p.get("table") for p in report.problems} <= {"item"}, report.problems
    edit = f"UPDATE sale_line SET {column} = {value} WHERE id = :i"
    with pytest.raises(IntegrityError, match=r"sale_line.*(不可修改|refuses this UPDATE)"), engine.begin() as conn:
        conn.execute(text(edit), {"i": line["id"]})
    with behind_the_guard(engine, "sale_line") as conn:
        conn.execute(text(edit), {"i": line["id"]})
    named = [p for p in _verify(engine, ctx).problems if p.get("table") == "sale_line"]
    assert [(p["kind"], p["row_id"], p["columns"]) for p in named] == [("altered_row", str(line["id"]), [column])]


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_sale_made_through_the_service_verifies_intact_with_what_its_lines_kept(shop: Shop, engine: Engine,
                                                                                 ctx: Ctx) -> None:
    """The scan's image, a line scanned again, a quantity changed, the completion's image: the chain agrees with
    the lines as they stand; and a snapshot forged on an open basket's line is named too."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 1)
    line = scan(c, h, sid, BARCODE_VITC, 1).json()["lines"][0]
    assert c.patch(f"/sales/{sid}/lines/{line['id']}", json={"qty": 3}, headers=h).status_code == 200
    open_line = scan(c, h, new_sale(c, h), BARCODE_MASK, 1).json()["lines"][0]
    assert pay_cash(c, h, sid, 1050, 1050).status_code == 200
    assert _verify(engine, ctx).ok, _verify(engine, ctx).problems
    with engine.begin() as conn:  # the guard lets an open basket's line change: verify still names it
        conn.execute(text("UPDATE sale_line SET gsp_class = 'food' WHERE id = :i"), {"i": open_line["id"]})
    assert [(p["kind"], p["table"], p["columns"]) for p in _verify(engine, ctx).problems] == [
        ("altered_row", "sale_line", ["gsp_class"])]
