"""Transfers between the stores of one chain (调拨出库 / 调拨入库), two stores in one database, on SQLite and PostgreSQL:
out of A at its share of the batch's cost, in transit (both sides see it), received with 验收 at B into a batch of
its own at the same cost, both movements through the one ledger; refused to a store of another chain or of none, to
a store whose scope lacks the item, for a stopped batch, for a receiver that left the chain meanwhile, twice; each
document written once (the database refuses an edit)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from catalog.classes import GspClass, Storage, ZonePurpose
from server import audit
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.stock import ledger, transfers
from server.services.store.profile import bootstrap_store, update_profile
from tests.conftest import Shop, make_settings, seed_shop

CHAIN = "LS-0001"
VITC = {"code": "YP0002", "name": "维生素C片", "spec": "0.1g*100片", "approval_no": "国药准字H2", "gsp_class": "otc_a",
        "route": "internal", "price_fen": 360}


def _store(engine: Engine, settings: Any, code: str, chain: str, scope: str) -> Ctx:
    other = make_settings(settings.database.url, store={"fixmedins_code": code, "name": f"分店{code[-2:]}"})
    ctx = Ctx(bootstrap_store(engine, other), other)
    with core_unit(engine) as u:
        update_profile(u, ctx, {"chain_code": chain, "business_scope": scope})
        catalog_service.create_zone(u, ctx, "Z-OTC", "非处方药区", ZonePurpose.DISPLAY, {GspClass.OTC_A, GspClass.OTC_B},
                                    "internal", Storage.NORMAL, False)
        catalog_service.create_item(u, ctx, VITC, [], "Z-OTC")
    return ctx


def _written(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                     for t in ("stock_transfer", "stock_transfer_line", "transfer_receipt", "stock_movement", "batch"))


def _refused(engine: Engine, work: Any, code: str) -> None:
    before = _written(engine)
    with pytest.raises(AppError) as refused, core_unit(engine) as u:
        work(u)
    assert refused.value.code == code, refused.value.body()
    assert _written(engine) == before


def _sellable(engine: Engine, ctx: Ctx, item: int) -> int:
    with read_session(engine) as s:
        return ledger.sellable_by_item(s, ctx, [item])[item]


@pytest.mark.refuses("GSP-05", "GSP-06", "ST-02")
def test_a_transfer_leaves_one_store_and_enters_another_of_its_chain_at_the_same_cost(engine: Engine, ctx: Ctx,
                                                                                    settings: Any) -> None:
    items = seed_shop(engine, ctx)
    with core_unit(engine) as u:
        update_profile(u, ctx, {"chain_code": CHAIN, "business_scope": "处方药、非处方药、医疗器械、食品"})
    b = _store(engine, settings, "P44030000012", CHAIN, "处方药、非处方药、中药饮片")
    devices_only = _store(engine, settings, "P44030000013", CHAIN, "医疗器械")
    elsewhere = _store(engine, settings, "P44030000014", "LS-0002", "处方药、非处方药")
    with engine.connect() as conn:
        vitc, ice = (conn.execute(text("SELECT id FROM batch WHERE batch_no = :n"), {"n": n}).scalar_one()
                     for n in ("B-VITC-1", "B-ICE-1"))
        b_vitc = conn.execute(text("SELECT id FROM item WHERE store_id = :s AND code = 'YP0002'"),
                              {"s": b.store_id}).scalar_one()
    send = transfers.Send(vitc, 20)
    # refused: another chain, a store whose scope lacks drugs, the sender itself, a stopped batch
    _refused(engine, lambda u: transfers.send(u, ctx, "P44030000014", [send]), "GSP-05")
    _refused(engine, lambda u: transfers.send(u, ctx, "P44030000013", [send]), "GSP-05")
    _refused(engine, lambda u: transfers.send(u, ctx, settings.store.fixmedins_code, [send]), "GSP-05")
    _refused(engine, lambda u: transfers.send(u, ctx, "P44030000012", [transfers.Send(ice, 1)]), "GSP-06")
    # sent: out of A at the batch's cost (200 fen a pack, 20 packs), in transit on both sides
    a_before = _sellable(engine, ctx, items["vitc"])
    with core_unit(engine) as u:
        tid = int(transfers.send(u, ctx, "P44030000012", [send], note="补货").id or 0)
    assert _sellable(engine, ctx, items["vitc"]) == a_before - 20
    with read_session(engine) as s:
        assert [t["id"] for t in transfers.in_transit(s, b)] == [tid] == [t["id"] for t in transfers.in_transit(s, ctx)]
        assert transfers.in_transit(s, b)[0]["lines"][0]["cost_fen"] == 4000
        assert transfers.in_transit(s, elsewhere) == []
    # received by no one else: a store of another chain does not find it, the sender cannot take it back in
    _refused(engine, lambda u: transfers.receive(u, elsewhere, tid, [transfers.Take(1)]), "NOT_FOUND")
    _refused(engine, lambda u: transfers.receive(u, ctx, tid, [transfers.Take(1)]), "GSP-05")
    _refused(engine, lambda u: transfers.receive(u, b, tid, [transfers.Take(1, "quarantine")]), "GSP-05")  # no reason
    with core_unit(engine) as u:
        transfers.receive(u, b, tid, [transfers.Take(1)], note="验收合格")
    assert _sellable(engine, b, b_vitc) == 20
    with engine.connect() as conn:
        moved = conn.execute(text("SELECT store_id, kind, qty, cost_fen, location FROM stock_movement "
                                  "WHERE kind IN ('transfer_out', 'transfer_in') ORDER BY id")).all()
    assert [tuple(m) for m in moved] == [(ctx.store_id, "transfer_out", -20, -4000, "sellable"),
                                         (b.store_id, "transfer_in", 20, 4000, "sellable")]
    _refused(engine, lambda u: transfers.receive(u, b, tid, [transfers.Take(1)]), "ST-02")  # twice
    with read_session(engine) as s:
        assert transfers.in_transit(s, b) == []
    # another time: the receiver leaves the chain while goods are on the way — not received; back in, held 待验
    with core_unit(engine) as u:
        second = int(transfers.send(u, ctx, "P44030000012", [transfers.Send(vitc, 5)]).id or 0)
        update_profile(u, b, {"chain_code": ""})
    _refused(engine, lambda u: transfers.receive(u, b, second, [transfers.Take(1)]), "GSP-05")
    with core_unit(engine) as u:
        update_profile(u, b, {"chain_code": CHAIN})
        transfers.receive(u, b, second, [transfers.Take(1, "quarantine", "外箱破损待复检")])
    assert _sellable(engine, b, b_vitc) == 20
    with core_unit(engine) as u:
        transfers.release(u, b, second, 1, "复检合格")
    assert _sellable(engine, b, b_vitc) == 25
    for store in (ctx, b, devices_only, elsewhere):
        with read_session(engine) as s:
            report = audit.verify(s, store.store_id)
        assert report.ok, report.problems[:3]
    # each side is written once: the database refuses an edit or a deletion
    for sql in ("UPDATE stock_transfer_line SET cost_fen = 1", "UPDATE transfer_receipt SET note = 'x'",
                "DELETE FROM transfer_receipt_line", "DELETE FROM stock_transfer"):
        with pytest.raises(IntegrityError) as guarded, engine.begin() as conn:
            conn.execute(text(sql))
        assert re.search("调拨单据不可", str(guarded.value)), sql


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.refuses("GSP-05")
def test_the_api_sends_and_the_other_store_receives_on_its_command_line(shop: Shop, engine: Engine,
                                                                         ctx: Ctx, settings: Any,
                                                                         tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from server.cli import app
    from server.roles import Role
    from server.services.store.users import add_user
    from tests.server.test_duty_cli import _config

    c, mg = shop["client"], shop["manager"]
    with core_unit(engine) as u:
        update_profile(u, ctx, {"chain_code": CHAIN, "business_scope": "处方药、非处方药"})
    b = _store(engine, settings, "P44030000012", CHAIN, "非处方药")
    _store(engine, settings, "P44030000014", "LS-0002", "非处方药")
    with core_unit(engine) as u:
        add_user(u, b, "u_b_pharmacist", "分店药师", "2323", {Role.PHARMACIST})
    vitc = int(c.get(f"/items/{shop['items']['vitc']}/batches", headers=mg).json()[0]["id"])
    before = _written(engine)
    away = c.post("/transfers", json={"to_store_code": "P44030000014", "lines": [{"batch_id": vitc, "qty": 3}]},
                  headers=mg)
    assert away.status_code == 409 and away.json()["code"] == "GSP-05", away.text
    assert _written(engine) == before
    sent = c.post("/transfers", json={"to_store_code": "P44030000012", "lines": [{"batch_id": vitc, "qty": 3}]},
                  headers=mg)
    assert sent.status_code == 201, sent.text
    tid = sent.json()["id"]
    assert (sent.json()["status"], sent.json()["lines"][0]["cost_fen"]) == ("in_transit", 600)
    assert [t["id"] for t in c.get("/transfers/in-transit", headers=shop["pharmacist"]).json()] == [tid]
    # the other store, on its own command line: sees it coming, receives it with its 验收
    config = tmp_path / "b.toml"
    config.write_text(_config(tmp_path, settings).read_text(encoding="utf-8").replace(
        'fixmedins_code = "P44030000001"', 'fixmedins_code = "P44030000012"'), encoding="utf-8")
    runner = CliRunner()
    shown = runner.invoke(app, ["transfer", "in-transit", "--config", str(config)])
    assert shown.exit_code == 0 and f"#{tid}" in shown.output and "in_transit" in shown.output, shown.output
    got = runner.invoke(app, ["transfer", "receive", str(tid), "--as", "u_b_pharmacist", "--config", str(config)],
                        input="2323\n")
    assert got.exit_code == 0 and "received" in got.output, got.output
    assert c.get(f"/transfers/{tid}", headers=mg).json()["status"] == "received"
