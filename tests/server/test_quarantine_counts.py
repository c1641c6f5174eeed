"""Counts of quarantine (待验) stock: a sheet can include it, each batch's on a line of its own, its variances posted
against the quarantine location; quarantine stock never reaches the shelf by a count (GSP-05) — not counted as
shelf stock on a sheet that leaves quarantine out, not moved from one line to the other on one sheet, not counted
away first and found on the shelf on a later sheet. Each refusal shown to write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server import audit
from server.db.uow import read_session
from server.services.context import Ctx
from server.services.stock import ledger
from tests.conftest import Shop
from tests.server.test_receiving import _line, _receipt, _supplier

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _held(engine: Engine, batch_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT location, qty FROM batch_balance WHERE batch_id = :b"),
                                 {"b": batch_id}).all())


def _written(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                     for t in ("stock_movement", "audit_entry"))


def _count(c: TestClient, counter: dict[str, str], approver: dict[str, str], entries: list[dict[str, Any]],
           quarantine: bool = True) -> Any:
    """A sheet of zone Z-OTC counted by `counter` (the entries), submitted, and posted by `approver`: the answer."""
    sheet = c.post("/counts", json={"zone_code": "Z-OTC", "quarantine": quarantine}, headers=counter)
    assert sheet.status_code == 201, sheet.text
    sid = sheet.json()["id"]
    entered = c.post(f"/counts/{sid}/entries", json={"entries": entries}, headers=counter)
    if entered.status_code != 200:
        return entered
    assert c.post(f"/counts/{sid}/submit", json={}, headers=counter).status_code == 200
    return c.post(f"/counts/{sid}/post", json={}, headers=approver)


@pytest.mark.refuses("GSP-05")
def test_quarantine_stock_is_counted_in_quarantine_and_never_reaches_the_shelf_by_a_count(
        shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    vitc = items["vitc"]
    sup = _supplier(c, mg, "国药控股", today.replace(year=today.year + 1), ["drugs"], [vitc])
    rid = _receipt(c, ph, sup, [_line(vitc, "Z-OTC", 10, 180, "LQ", today=today)]).json()["id"]
    held = {"verdicts": [{"line_no": 1, "outcome": "quarantine", "reason": "外包装潮湿待复检"}]}
    assert c.post(f"/receipts/{rid}/inspection", json=held, headers=ph).status_code == 200
    approved = c.post(f"/receipts/{rid}/approve", json={}, headers=mg)
    assert approved.status_code == 200, approved.text
    batch = approved.json()["lines"][0]["batch_id"]
    with read_session(engine) as s:
        shelf = ledger.sellable_by_item(s, ctx, [vitc])[vitc]

    def sellable() -> int:
        with read_session(engine) as s:
            return ledger.sellable_by_item(s, ctx, [vitc])[vitc]

    # a sheet that includes quarantine lists the held batch on a quarantine line with its book
    sheet = c.post("/counts", json={"zone_code": "Z-OTC", "quarantine": True}, headers=ph).json()
    assert [(ln["location"], ln["book_qty"]) for ln in sheet["lines"] if ln["batch_id"] == batch] == [("quarantine", 10)]
    # counted short in quarantine, and then over: both posted against the quarantine location, the shelf untouched
    for found, reason in ((8, "待验区破损两盒"), (9, "找回一盒")):
        posted = _count(c, ph, mg, [{"batch_id": batch, "location": "quarantine", "qty": found, "reason": reason}])
        assert posted.status_code == 200, posted.text
        assert _held(engine, batch) == {"quarantine": found} and sellable() == shelf
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind, location, qty FROM stock_movement WHERE ref_type = 'count_line' "
                                  "AND batch_id = :b ORDER BY id"), {"b": batch}).all()
    assert [tuple(k) for k in kinds] == [("count_loss", "quarantine", -2), ("count_gain", "quarantine", 1)]
    before = _written(engine)
    # the walk-arounds: the held boxes counted as shelf stock on a sheet that leaves quarantine out …
    r = _count(c, ph, mg, [{"batch_id": batch, "qty": 9, "reason": "货架上发现"}], quarantine=False)
    assert r.status_code == 409 and r.json()["code"] == "GSP-05", r.text
    # … a quarantine line on such a sheet …
    r = _count(c, ph, mg, [{"batch_id": batch, "location": "quarantine", "qty": 9}], quarantine=False)
    assert r.status_code == 422
    # … moved from the quarantine line to the shelf line of one sheet …
    r = _count(c, ph, mg, [{"batch_id": batch, "location": "quarantine", "qty": 0, "reason": "不在待验区"},
                           {"batch_id": batch, "qty": 9, "reason": "在货架上"}])
    assert r.status_code == 409 and r.json()["code"] == "GSP-05", r.text
    assert _held(engine, batch) == {"quarantine": 9} and sellable() == shelf
    # (the refused sheets are left unposted: their movements and entries are not written)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM stock_movement")).scalar_one() == before[0]
    # … or counted away from quarantine first (lawfully, a loss) and found on the shelf on a later sheet
    gone = _count(c, ph, mg, [{"batch_id": batch, "location": "quarantine", "qty": 0, "reason": "待验货丢失"}])
    assert gone.status_code == 200, gone.text
    after_loss = _written(engine)
    r = _count(c, ph, mg, [{"batch_id": batch, "qty": 9, "reason": "在货架上找到"}], quarantine=False)
    assert r.status_code == 409 and r.json()["code"] == "GSP-05"
    assert _written(engine)[0] == after_loss[0] and sellable() == shelf
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]
