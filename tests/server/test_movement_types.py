"""The one list of movement kinds: total over what the ledger writes, each kind mapped to a 进销存 column, an
upload and a bill type; the ledger refuses a kind the list lacks and a movement going the wrong way."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from server.config import ROOT
from server.db.models import MovementKind
from server.db.uow import core_unit
from server.rules.movements import TYPES, Column, Direction, sign_agrees, type_of
from server.services.context import Ctx
from server.services.stock import ledger


def test_every_kind_has_one_type_and_it_goes_where_its_direction_says() -> None:
    assert set(TYPES) == set(MovementKind)
    for kind, t in TYPES.items():
        assert t.kind == kind and t.bill_zh
        if t.direction == Direction.MOVE:  # within the store: no column, the centre is not told
            assert t.column is None and t.upload is None, kind
            continue
        assert t.column is not None and t.upload is not None, kind
        assert t.column.value.startswith("in_" if t.direction == Direction.IN else "out_"), kind
        if t.upload.txn == "3502":
            # 101 调拨入库 103 盘盈 106 其他入库; 102 调拨出库 104 盘损 105 销毁 107 其他出库
            assert t.upload.inv_chg_type in ({"101", "103", "106"} if t.direction == Direction.IN
                                             else {"102", "104", "105", "107"}), kind
        else:
            assert t.upload.inv_chg_type is None and t.upload.txn in {"3501", "3503", "3504", "3505", "3506"}
    # every in and out column of the report is fed by some kind
    assert {t.column for t in TYPES.values() if t.column} == set(Column)


def test_every_kind_the_code_writes_is_in_the_list() -> None:
    """Kinds are written by name (MovementKind.X) in the service: every one named exists in the list."""
    named = set()
    for path in (ROOT / "server").rglob("*.py"):
        named |= set(re.findall(r"MovementKind\.([A-Z_]+)", path.read_text(encoding="utf-8")))
    assert named and named <= {k.name for k in MovementKind}


def test_the_direction_of_a_kind() -> None:
    assert sign_agrees("purchase", 5) and not sign_agrees("purchase", -5)
    assert sign_agrees("sale", -1) and not sign_agrees("sale", 1)
    assert sign_agrees("quarantine_in", 1) and sign_agrees("quarantine_in", -1)
    upload = type_of("count_loss").upload
    assert upload is not None and upload.inv_chg_type == "104"
    with pytest.raises(ValueError):
        type_of("loss")  # not a kind: the ledger writes no kind outside the list


def test_the_ledger_writes_no_kind_outside_the_list_nor_one_going_the_wrong_way(shop: dict, engine: Engine,
                                                                                  ctx: Ctx) -> None:
    with core_unit(engine) as u:
        batch_id = int(u.connection().exec_driver_sql("SELECT id FROM batch WHERE batch_no = 'B-VITC-1'").scalar_one())
        item_id = shop["items"]["vitc"]
        for move in (ledger.Move(batch_id, item_id, "loss", -1, "test", "1"),
                     ledger.Move(batch_id, item_id, "purchase", -1, "test", "1"),
                     ledger.Move(batch_id, item_id, "sale", 1, "test", "1", cost_fen=0),
                     ledger.Move(batch_id, item_id, "purchase", 1, "test", "1"),  # stock in says what it cost
                     ledger.Move(batch_id, item_id, "sale", -1, "test", "1", cost_fen=10)):  # out: the ledger says
            with pytest.raises(ValueError):
                ledger.append(u, ctx, [move])


def test_an_upgrade_backfills_the_ledger_as_it_would_have_written_it(engine: Engine, ctx: Ctx) -> None:
    """Downgraded below 0017 and upgraded again, a store's movements get back the cost, retail and business date
    the ledger wrote, the balances their cost on hand; the chain verifies and the guards are in place."""
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from server import audit
    from server.db.migrate import alembic_config, upgrade
    from server.db.uow import read_session
    from tests.conftest import seed_shop

    items = seed_shop(engine, ctx)
    with core_unit(engine) as u:
        conn = u.connection()
        vitc = int(conn.exec_driver_sql("SELECT id FROM batch WHERE batch_no = 'B-VITC-1'").scalar_one())
        amox = int(conn.exec_driver_sql("SELECT id FROM batch WHERE batch_no = 'B-AMOX-1'").scalar_one())
        ledger.append(u, ctx, [ledger.Move(vitc, items["vitc"], "other_out", -3, "test", "1", retail_fen=-1050),
                               ledger.Move(vitc, items["vitc"], "damage", -4, "test", "2", retail_fen=-1400)])
        ledger.relocate(u, ctx, amox, items["amox"], 7, ledger.SELLABLE, ledger.QUARANTINE, "quarantine_in", "t", "3")
        ledger.relocate(u, ctx, amox, items["amox"], 2, ledger.QUARANTINE, ledger.SELLABLE, "quarantine_out", "t", "4")
        ledger.append(u, ctx, [ledger.Move(vitc, items["vitc"], "other_in", 1, "test", "5", cost_fen=200)])
    movements = "SELECT id, cost_fen, business_date FROM stock_movement ORDER BY id"
    balances = "SELECT batch_id, location, qty, cost_fen FROM batch_balance ORDER BY batch_id, location"
    with engine.connect() as conn:
        written, held = conn.execute(text(movements)).all(), conn.execute(text(balances)).all()
    assert any(r[1] < 0 for r in written) and all(r[2] is not None for r in written)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text(movements)).all() == written
        assert conn.execute(text(balances)).all() == held
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems[:3]
    with pytest.raises(DBAPIError), engine.begin() as conn:  # the movements' guard is back
        conn.execute(text("UPDATE stock_movement SET cost_fen = 0 WHERE id = :i"), {"i": written[0][0]})
    with pytest.raises(DBAPIError), engine.begin() as conn:  # and the balances' (and their CHECKs)
        conn.execute(text("UPDATE batch_balance SET cost_fen = -5"))
