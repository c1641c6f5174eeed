"""GSP-06 "expired or stopped stock is never sold", written once in the stock ledger (ledger.blocking_reasons for
Python, ledger.sellable_batch for SQL): the two forms agree on every batch at the day's boundary, and every
path that shows or takes sellable stock — the scan, the completion's FEFO, the catalog search's figure —
counts the same stock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from server.db.models import Batch, MovementKind
from server.db.models.base import table_of
from server.db.uow import core_unit, read_session
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.sale.lines import ITEM_BY_ID
from server.services.stock import batches as stock
from server.services.stock import ledger
from tests.conftest import BARCODE_ICE, BARCODE_MASK, Shop


@pytest.mark.refuses("GSP-06")
def test_the_python_and_the_sql_form_of_the_rule_agree_at_the_days_boundary(engine: Engine, ctx: Ctx) -> None:
    """Every combination that matters: expiring yesterday, today, tomorrow; active or stopped; on the shelf or in
    quarantine — on SQLite and PostgreSQL (the `engine` fixture runs on both)."""
    from catalog.classes import GspClass, Storage, ZonePurpose

    today = ctx.today
    with core_unit(engine) as u:
        catalog_service.create_zone(u, ctx, "Z-OTC", "Z-OTC", ZonePurpose.DISPLAY, {GspClass.OTC_A}, "internal",
                                    Storage.NORMAL, False)
        item = catalog_service.create_item(u, ctx, {"code": "YP0900", "name": "测试片", "spec": "1g*10片",
                                                    "approval_no": "国药准字H9", "gsp_class": "otc_a",
                                                    "route": "internal", "price_fen": 100}, [], "Z-OTC")
        assert item.id is not None
        expected, n = 0, 0
        for days in (-1, 0, 1):
            for stopped in (False, True):
                for quarantined in (False, True):
                    n += 1
                    qty = 10 * n
                    batch = stock.add_opening_batch(u, ctx, item.id, None, f"B{n:02d}", f"L{n}",
                                                    today - timedelta(days=400), today + timedelta(days=days), 100, qty)
                    assert batch.id is not None
                    if quarantined:  # moved whole into quarantine: none of it is on the shelf
                        ledger.relocate(u, ctx, batch.id, item.id, qty, ledger.SELLABLE, ledger.QUARANTINE,
                                        MovementKind.QUARANTINE_IN.value, "test", str(n))
                    if stopped:
                        stock.set_batch_stop(u, ctx, batch.id, True, "外观异常")
                    if not quarantined and not ledger.blocking_reasons(batch.expires_on, batch.status, today):
                        expected += qty
        item_id = item.id
    assert expected == 10 * (5 + 9)  # expiring today (n=5) and tomorrow (n=9), active, on the shelf
    with read_session(engine) as s:
        assert ledger.sellable_by_item(s, ctx, [item_id]) == {item_id: expected}
        scanned = ITEM_BY_ID.first(s.connection(), {"sid": ctx.store_id, "id": item_id, "today": today})
        assert scanned.good_stock == expected
        avail = ledger.availability(s, ctx, catalog_service.get_item(s, ctx, item_id))
        assert avail.good == expected
        assert {b.batch_no for b, _ in avail.good_batches} == {"B05", "B09"}
        assert {b.batch_no for b, _, _ in avail.blocked} == {"B01", "B03", "B07", "B11"}  # expired or stopped, shelved
        sql_sellable = {b.batch_no for b in s.exec(select(Batch).where(
            Batch.item_id == item_id, ledger.sellable_batch(table_of(Batch), today)))}
        py_sellable = {b.batch_no for b in s.exec(select(Batch).where(Batch.item_id == item_id))
                       if not ledger.blocking_reasons(b.expires_on, b.status, today)}
        assert sql_sellable == py_sellable == {"B05", "B06", "B09", "B10"}


def _search(shop: Shop, q: str) -> dict[str, Any]:
    r = shop["client"].get("/items/search", params={"q": q}, headers=shop["cashier"])
    assert r.status_code == 200, r.text
    [hit] = r.json()
    return dict(hit["item"])


@pytest.mark.refuses("GSP-06")
def test_the_search_shows_only_stock_that_can_be_sold(shop: Shop) -> None:
    """The cashier's search once showed every box on the books, expired and stopped ones too (27 boxes of an item
    whose sellable stock was 0): it shows what the scan would let them sell."""
    c, h = shop["client"], shop["cashier"]
    mask, ice = _search(shop, BARCODE_MASK), _search(shop, BARCODE_ICE)
    assert mask["stock"] == 3  # the good batch; the expired one's 5 are not for sale
    assert ice["stock"] == 0  # its only batch is stopped
    sid = "00000000-0000-4000-8000-000000000001"
    assert c.post("/sales", json={"id": sid}, headers=h).status_code == 201
    assert c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_MASK, "qty": 3}, headers=h).status_code == 201
    more = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_MASK, "qty": 1}, headers=h)
    assert more.status_code == 409 and more.json()["details"]["available"] == 3, more.text
    refused = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_ICE, "qty": 1}, headers=h)
    assert (refused.status_code, refused.json()["code"]) == (409, "GSP-06")


@pytest.mark.refuses("GSP-06")
@pytest.mark.parametrize("qty", [1, 3])
def test_the_completion_takes_only_sellable_batches(shop: Shop, engine: Engine, ctx: Ctx, qty: int) -> None:
    """FEFO takes from the earliest-expiring batch that may be sold: never the expired one that expires first."""
    from server.db.models.ledger import StockMovement

    c, h = shop["client"], shop["cashier"]
    sid = f"00000000-0000-4000-8000-00000000001{qty}"
    assert c.post("/sales", json={"id": sid}, headers=h).status_code == 201
    assert c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_MASK, "qty": qty}, headers=h).status_code == 201
    paid = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 990 * qty,
                                                               "tendered_fen": 990 * qty}]}, headers=h)
    assert paid.status_code == 200, paid.text
    with read_session(engine) as s:
        taken = s.exec(select(Batch.batch_no, StockMovement.qty).join(Batch, col(Batch.id) == StockMovement.batch_id)
                       .where(StockMovement.kind == "sale")).all()
        assert taken == [("B-MASK-NEW", -qty)]
        assert ledger.sellable_by_item(s, ctx, [shop["items"]["mask"]]) == {shop["items"]["mask"]: 3 - qty}
