"""GET /health, and the demo store as `make demo` builds it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import select

from catalog.classes import GspClass
from server import audit
from server.db.models import Batch, Item, Till, User, Zone
from server.db.models.ledger import StockMovement
from server.db.uow import read_session
from server.demo import load_demo
from server.services.context import Ctx
from tests.conftest import login


def test_health_reports_database_migrations_and_configuration(client: TestClient, backend: str) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["backend"] == ("sqlite" if backend == "sqlite" else "postgresql")
    assert body["migrations"]["up_to_date"] is True and body["migrations"]["current"] == body["migrations"]["head"]
    assert body["configuration"]["valid"] is True and body["store"]["code"] == "P44030000001"


def test_unknown_paths_and_methods_answer_in_the_error_shape(client: TestClient) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404 and set(r.json()) == {"code", "message_zh", "message_en", "details"}
    r = client.delete("/health")
    assert r.status_code == 405 and r.json()["message_zh"]


# On SQLite only: the demo is `make demo`'s embedded store. On PostgreSQL its load is ~16,000 round trips of
# nothing the chain's own tests do not already cover (the audit chain verified, users signing in).
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_demo_store_loads_once_verifies_and_lets_its_users_in(engine: Engine, ctx: Ctx, client: TestClient) -> None:
    summary = load_demo(engine, ctx)
    assert "cashier1" in summary and "PIN" in summary
    assert "已存在" in load_demo(engine, ctx)  # loading twice changes nothing
    with read_session(engine) as s:
        items = s.exec(select(Item).where(Item.store_id == ctx.store_id)).all()
        assert len(items) >= 300
        assert {GspClass(i.gsp_class) for i in items} == set(GspClass)
        assert all(i.zone_id is not None for i in items)
        used = {i.zone_id for i in items}
        display = s.exec(select(Zone).where(Zone.store_id == ctx.store_id, Zone.purpose == "display")).all()
        assert {z.id for z in display} <= used
        assert s.exec(select(func.count()).select_from(Batch)).one() >= 300
        stock = s.exec(select(func.sum(StockMovement.qty))).one()
        assert stock and stock > 0
        assert s.exec(select(Till).where(Till.code == ctx.settings.till.code)).first() is not None
        assert s.exec(select(func.count()).select_from(User)).one() >= 6
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]
    h = login(client, "cashier1", "1111")
    hits = client.get("/items/search", params={"q": "AMXL"}, headers=h).json()
    assert hits and "阿莫西林" in hits[0]["item"]["name"]
    store = client.get("/store", headers=h).json()
    assert store["agreement_status"] == "active" and store["card_settlement_refusals"] == []
