"""ST-02 / SEC-04: every business write is audited in its transaction; tampering is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select
from typer.testing import CliRunner

from catalog.classes import GspClass, Route, Storage
from server import audit
from server.config import ROOT, Settings
from server.db.models import AuditEntry, Item
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.roles import Role
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.store import users
from tests.conftest import Clock
from tests.tamper import behind_the_guard


def _item(code: str = "YP000001", price: int = 1250) -> dict[str, Any]:
    return {"code": code, "name": "阿莫西林胶囊", "generic_name": "阿莫西林", "spec": "0.25g*24粒",
            "approval_no": "国药准字H20003263", "gsp_class": GspClass.RX.value, "route": Route.INTERNAL.value,
            "storage": Storage.NORMAL.value, "price_fen": price}


def _seed(engine: Engine, ctx: Ctx) -> int:
    with core_unit(engine) as u:
        users.add_user(u, ctx, "pharm1", "张药师", "2222", {Role.PHARMACIST})
        item = catalog_service.create_item(u, ctx, _item(), ["6901234567892"], None)
        catalog_service.update_item(u, ctx, id_of(item), {"price_fen": 1300})
        return id_of(item)


def _verify(engine: Engine, ctx: Ctx) -> audit.VerifyReport:
    with read_session(engine) as s:
        return audit.verify(s, ctx.store_id)


def test_writes_are_audited_and_the_chain_verifies(engine: Engine, ctx: Ctx) -> None:
    item_id = _seed(engine, ctx)
    report = _verify(engine, ctx)
    assert report.ok, report.problems
    with read_session(engine) as s:
        entries = s.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all()
    actions = [e.action for e in entries]
    assert actions[0] == "store.create"
    assert "user.create" in actions and "user.grant" in actions and "barcode.add" in actions
    update = next(e for e in entries if e.action == "item.update")
    assert update.entity == "item" and update.entity_id == str(item_id)
    assert update.before is not None and update.after is not None
    assert update.before["price_fen"] == 1250 and update.after["price_fen"] == 1300
    # the PIN hash never reaches the log
    assert all("pin_hash" not in (e.after or {}) for e in entries)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))


@pytest.mark.refuses("CARD-02")
def test_a_refused_write_leaves_neither_change_nor_entry(engine: Engine, ctx: Ctx) -> None:
    _seed(engine, ctx)
    before = _verify(engine, ctx).entries
    with pytest.raises(AppError) as exc, core_unit(engine) as u:
        catalog_service.create_item(u, ctx, _item("YP000002") | {"gsp_class": "food", "insurance_category": "jia",
                                                                  "nhsa_code": "XA02BCA211A012010100154"}, [], None)
    assert exc.value.code == "CARD-02"
    assert _verify(engine, ctx).entries == before


@pytest.mark.refuses("ST-02", "SEC-04")
def test_an_altered_audit_entry_is_named(engine: Engine, ctx: Ctx) -> None:
    _seed(engine, ctx)
    with behind_the_guard(engine, "audit_entry") as conn:
        seq = conn.execute(text("SELECT seq FROM audit_entry WHERE action = 'item.update'")).scalar_one()
        conn.execute(text("UPDATE audit_entry SET note = 'nothing to see' WHERE seq = :seq"), {"seq": seq})
    report = _verify(engine, ctx)
    assert not report.ok
    assert {"kind": "altered_entry", "seq": seq}.items() <= report.problems[0].items()


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_business_row_edited_behind_the_service_is_named(engine: Engine, ctx: Ctx) -> None:
    item_id = _seed(engine, ctx)
    with engine.begin() as conn:
        conn.execute(text("UPDATE item SET price_fen = 1 WHERE id = :id"), {"id": item_id})
    report = _verify(engine, ctx)
    altered = [p for p in report.problems if p["kind"] == "altered_row"]
    assert altered == [altered[0]] and altered[0]["table"] == "item" and altered[0]["row_id"] == str(item_id)
    assert altered[0]["columns"] == ["price_fen"]


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_row_inserted_behind_the_service_is_named(engine: Engine, ctx: Ctx, clock: Clock) -> None:
    _seed(engine, ctx)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO app_user (store_id, username, display_name, pin_hash, status, frozen_reason, "
            "failed_attempts, created_at, updated_at) VALUES (:s, 'ghost', 'ghost', 'x', 'active', '', 0, "
            ":at, :at)"), {"s": ctx.store_id, "at": clock.now})
    report = _verify(engine, ctx)
    assert [p["kind"] for p in report.problems] == ["unaudited_row"]
    assert report.problems[0]["table"] == "app_user"


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_removed_tail_is_detected(engine: Engine, ctx: Ctx) -> None:
    _seed(engine, ctx)
    with behind_the_guard(engine, "audit_entry") as conn:
        top = conn.execute(text("SELECT max(seq) FROM audit_entry")).scalar_one()
        conn.execute(text("DELETE FROM audit_entry WHERE seq = :seq"), {"seq": top})
    kinds = {p["kind"] for p in _verify(engine, ctx).problems}
    assert "truncated" in kinds


@pytest.mark.refuses("ST-02", "SEC-04")
def test_cli_audit_verify_names_the_row(engine: Engine, ctx: Ctx, settings: Settings, tmp_path: Path) -> None:
    from server.cli import app

    item_id = _seed(engine, ctx)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    assert "audit chain intact" in ok.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE item SET name = '假药' WHERE id = :id"), {"id": item_id})
    bad = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert bad.exit_code == 1
    assert f"item #{item_id}: name differ" in bad.output


def test_audit_entries_are_per_store(engine: Engine, ctx: Ctx, settings: Settings) -> None:
    """Chain mode: each store has its own chain; another store's writes never touch this one's."""
    from server.services.store.profile import bootstrap_store
    from tests.conftest import make_settings

    _seed(engine, ctx)
    other = make_settings(settings.database.url, store={"fixmedins_code": "P44030000002", "name": "分店二"})
    other_ctx = Ctx(bootstrap_store(engine, other), other)
    with core_unit(engine) as u:
        catalog_service.create_item(u, other_ctx, _item(), ["6901234567892"], None)  # same code, other store
    assert _verify(engine, ctx).ok and _verify(engine, other_ctx).ok
    with read_session(engine) as s:
        mine = s.exec(select(Item).where(Item.store_id == ctx.store_id)).all()
    assert len(mine) == 1


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_stock_balance_edited_behind_the_service_is_named(engine: Engine, ctx: Ctx) -> None:
    """The ledger is the truth: a balance that no longer equals its movements is reported."""
    from datetime import date

    from server.services.stock import batches as stock

    item_id = _seed(engine, ctx)
    with core_unit(engine) as u:
        batch = stock.add_opening_batch(u, ctx, item_id, None, "B1", "L1", date(2025, 1, 1), date(2028, 1, 1), 500, 24)
    assert _verify(engine, ctx).ok
    with engine.begin() as conn:
        conn.execute(text("UPDATE batch_balance SET qty = 240 WHERE batch_id = :b"), {"b": batch.id})
    problems = [p for p in _verify(engine, ctx).problems if p["kind"] == "balance_mismatch"]
    assert problems == [problems[0]] and problems[0]["ledger"] == 24 and problems[0]["balance"] == 240


def test_the_database_refuses_negative_stock(engine: Engine, ctx: Ctx) -> None:
    """Belt and braces: even a writer that skipped the use case's check cannot take a batch below zero."""
    from datetime import date

    from sqlalchemy.exc import IntegrityError

    from server.services.stock import batches as stock
    from server.services.stock import ledger

    item_id = _seed(engine, ctx)
    with core_unit(engine) as u:
        batch = stock.add_opening_batch(u, ctx, item_id, None, "B1", "L1", date(2025, 1, 1), date(2028, 1, 1), 500, 3)
    with pytest.raises(AppError) as refused, core_unit(engine) as u:  # the ledger refuses first
        ledger.append(u, ctx, [ledger.Move(id_of(batch), batch.item_id, "sale", -4, "test", "x")])
    assert refused.value.code == "STOCK"
    # and the database regardless: below zero, a negative cost on hand, cost left at zero stock
    for change in ("qty = qty - 4", "cost_fen = -1", "qty = 0"):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(f"UPDATE batch_balance SET {change} WHERE batch_id = :b"), {"b": batch.id})
    with read_session(engine) as s:
        assert ledger.sellable_by_item(s, ctx, [item_id]) == {item_id: 3}
