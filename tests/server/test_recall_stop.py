"""A recalled batch stays stopped (GSP-06): no path lifts a recall's stop — the release route by the pharmacist or the
manager, a second stop with another reason and its release, an upkeep doubt cleared, the service a month later."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from server.audit import Actor
from server.db.uow import core_unit
from server.errors import AppError
from server.services.context import Ctx
from server.services.stock import batches as stock
from tests.conftest import BARCODE_VITC, Shop
from tests.server.test_selling import new_sale, scan

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _state(engine: Engine, batch_id: int) -> tuple[Any, ...]:
    """The batch's status and reason, and how many audit entries and movements the store has: all unchanged by a
    refusal."""
    with engine.connect() as conn:
        status, reason = conn.execute(text("SELECT status, stop_reason FROM batch WHERE id = :b"), {"b": batch_id}).one()
        entries = conn.execute(text("SELECT COUNT(*) FROM audit_entry")).scalar_one()
        moves = conn.execute(text("SELECT COUNT(*) FROM stock_movement")).scalar_one()
    return status, reason, entries, moves


@pytest.mark.refuses("GSP-06")
def test_no_path_lifts_the_stop_of_a_recalled_batch(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    c, ph, mg, cashier = shop["client"], shop["pharmacist"], shop["manager"], shop["cashier"]
    today = shop["clock"].today
    with core_unit(engine) as u:  # (a batch kept in a zone, so that an upkeep inspects it)
        batch_id = int(stock.add_opening_batch(u, ctx, shop["items"]["vitc"], None, "B-RC-1", "LRC", today - timedelta(
            days=30), today + timedelta(days=400), 200, 10, zone_code="Z-OTC").id or 0)
        seeded = int(u.connection().execute(text("SELECT id FROM batch WHERE batch_no = 'B-VITC-1'")).scalar_one())
        stock.set_batch_stop(u, ctx, seeded, True, "另批停售")  # (the till's scan meets only the recalled batch)
    # before any recall, a stop is lifted on review: the route itself works
    assert c.post(f"/batches/{batch_id}/stop", json={"reason": "外观存疑"}, headers=ph).status_code == 200
    assert c.post(f"/batches/{batch_id}/release", json={"reason": "复检合格"}, headers=ph).status_code == 200
    started = c.post("/recalls", json={"batch_id": batch_id, "reason": "生产企业召回", "notice_no": "ZH-9"}, headers=ph)
    assert started.status_code == 201, started.text
    held = _state(engine, batch_id)
    assert held[0] == "stopped"
    # the release route, by the pharmacist and by the manager
    for who in (ph, mg):
        r = c.post(f"/batches/{batch_id}/release", json={"reason": "已与企业确认可售"}, headers=who)
        assert r.status_code == 409 and r.json()["code"] == "GSP-06", r.text
        assert "ZH-9" in r.json()["message_zh"]
    assert _state(engine, batch_id) == held
    # a stop of its own, laid over the recall's, then lifted: the recall still holds
    assert c.post(f"/batches/{batch_id}/stop", json={"reason": "另行停售"}, headers=ph).status_code == 200
    after_stop = _state(engine, batch_id)
    r = c.post(f"/batches/{batch_id}/release", json={"reason": "另行停售解除"}, headers=mg)
    assert r.status_code == 409 and r.json()["code"] == "GSP-06"
    assert _state(engine, batch_id) == after_stop
    # an upkeep doubt on it, cleared: the doubt is cleared, the batch stays stopped
    seen = {"appearance": "完好", "packaging": "完好", "storage": "常温"}
    rec = c.post("/upkeep", json={"zone_code": "Z-OTC", "checks": [
        {"batch_id": batch_id, "outcome": "doubt", "note": "包装渗漏"} | seen]}, headers=ph)
    assert rec.status_code == 201, rec.text
    line = rec.json()["lines"][0]
    assert c.post(f"/upkeep/lines/{line['id']}/clear", json={"reason": "渗漏为外包装"}, headers=mg).status_code == 200
    assert _state(engine, batch_id)[0] == "stopped"
    # the service itself, a month later, by the manager's account
    with engine.connect() as conn:
        manager_id = conn.execute(text("SELECT id FROM app_user WHERE username = 'u_manager'")).scalar_one()
    later = replace(ctx.acting(Actor(manager_id, "u_manager")), now=shop["clock"].now + timedelta(days=31))
    before = _state(engine, batch_id)
    with pytest.raises(AppError) as refused, core_unit(engine) as u:
        stock.set_batch_stop(u, later, batch_id, False, "一个月后解除")
    assert refused.value.code == "GSP-06"
    assert _state(engine, batch_id) == before
    # and the till still cannot sell it
    sid = new_sale(c, cashier)
    assert scan(c, cashier, sid, BARCODE_VITC, 1).json()["code"] == "GSP-06"
