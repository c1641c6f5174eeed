"""Purchases (3503) and returns to the supplier (3504) through the uploads' outbox against the sandbox centre
(ST-01, ST-06, issue #21): a receipt approved and a return made go out with their events, the centre holds per
batch what the store's ledger says (count and amount at cost), a correction goes as 3507 (data type 3) and the
batch's standing facts again, a replay after a restore proves the purchases' days as the sales'; and a row the
centre refused is derived again once the catalog is corrected — by the 医保 administrator only, never by typing
a catalog or ledger fact into it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from server.cli import app
from server.db.sqlite import Writer
from server.db.uow import core_unit, read_unit
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from server.services.catalog.items import update_item
from server.services.context import Ctx
from server.services.insurance import uploads
from server.services.stock import ledger
from tests.conftest import ROLE_PINS, Clock, login
from tests.insurance.test_uploads import (
    _assert_centre_is_the_ledger,
    _config,
    _outbox,
    store,  # noqa: F401  (the fixture: the shop mapped, signed in)
)
from tests.server.test_receiving import _line, _receipt, _supplier

PURCHASE_KINDS = ("purchase", "gift_in", "purchase_return")


def _maker(engine: Engine, ctx: Ctx, item: int, manufacturer: str, **more: str) -> None:
    with core_unit(engine) as u:
        update_item(u, ctx, item, {"manufacturer": manufacturer, **more})


def _deliver(shop_store: Any, lines: list[dict[str, Any]], verdicts: list[str]) -> int:
    """A delivery from an approved supplier, inspected (line by line) and approved: the receipt's id."""
    shop = shop_store["shop"]
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today + timedelta(days=365), ["drugs"], [items["vitc"], items["amox"]])
    made = _receipt(c, ph, sup, lines)
    assert made.status_code == 201, made.text
    rid = int(made.json()["id"])
    verdict = [{"line_no": n, "outcome": v} | ({"reason": "待复检"} if v != "accepted" else {})
               for n, v in enumerate(verdicts, 1)]
    assert c.post(f"/receipts/{rid}/inspection", json={"verdicts": verdict}, headers=ph).status_code == 200
    approved = c.post(f"/receipts/{rid}/approve", json={}, headers=mg)
    assert approved.status_code == 200, approved.text
    return rid


def _purchases_held(shop_store: Any) -> Counter[tuple[str, str]]:
    """What the centre holds of 3503/3504 per (batch serial, transaction): the amount it sums (count × price)."""
    out: Counter[tuple[str, str]] = Counter()
    for f in shop_store["centre"].held():
        if f["txn"] in ("3503", "3504"):
            out[(f["bchno"], f["txn"])] += int(f["amount_fen"])
    return out


def _purchases_booked(engine: Engine) -> Counter[tuple[str, str]]:
    """The store's ledger of the same: each purchase, gift and return's cost per batch, corrections netted."""
    txn = {"purchase": "3503", "gift_in": "3503", "purchase_return": "3504"}
    with read_unit(engine) as r:
        rows = r.connection().execute(sa.text(
            "SELECT b.batch_no, m.kind, m.id, m.corrects_id, m.cost_fen FROM stock_movement m JOIN batch b ON "
            "b.id = m.batch_id WHERE m.kind IN ('purchase', 'gift_in', 'purchase_return') ORDER BY m.id")).all()
    cancelled = {m.corrects_id for m in rows if m.corrects_id} | {m.id for m in rows if m.corrects_id}
    out: Counter[tuple[str, str]] = Counter()
    for m in rows:
        if m.id not in cancelled:
            out[(m.batch_no, txn[m.kind])] += abs(int(m.cost_fen))
    return out


def test_purchases_and_returns_reach_the_centre_per_batch_and_a_replay_proves_their_days(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway, clock: Clock,  # noqa: F811
        sandbox: SandboxAdmin, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = store["shop"]
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], clock.today
    _maker(engine, ctx, items["vitc"], "华北制药")
    _maker(engine, ctx, items["amox"], "石药集团")
    before = len(_outbox(engine))
    rid = _deliver(store, [_line(items["vitc"], "Z-OTC", 3, 101, today=today),
                           _line(items["amox"], "Z-RX", 1, 800, "L-AMX", today=today),
                           _line(items["vitc"], "Z-OTC", 2, 0, "L-GIFT", today=today),
                           _line(items["vitc"], "Z-OTC", 5, 100, "L-REJ", today=today)],
                   ["accepted", "quarantine", "accepted", "rejected"])
    bought = _outbox(engine)[before:]
    # written with the approval: one 3503 per batch that entered stock (the held one too; the rejected line none)
    assert [(r.txn, r.qty, r.amount_fen) for r in bought] == [("3503", 3, 303), ("3503", 24, 800), ("3503", 2, 0)]
    # moving the held line to the shelf is within the store: nothing for the centre
    assert c.post(f"/receipts/{rid}/lines/2/release", json={"reason": "复检合格"}, headers=ph).status_code == 200
    assert len(_outbox(engine)) == before + 3
    back = c.post(f"/receipts/{rid}/returns", json={"reason": "近效期退货", "lines": [
        {"line_no": 1, "qty": 1}, {"line_no": 2, "qty": 24}]}, headers=mg)
    assert back.status_code == 201, back.text
    assert [(r.txn, r.qty, r.amount_fen) for r in _outbox(engine)[before + 3:]] == [("3504", 1, 101),
                                                                                    ("3504", 24, 800)]
    commits: list[bool] = []  # durable or not, each commit of the sending (the tills' writer lock waits for each)
    real_commit = Writer.commit

    def counted(self: Writer, commit: Any, durable: bool) -> None:
        commits.append(durable)
        real_commit(self, commit, durable)

    monkeypatch.setattr(Writer, "commit", counted)
    sent = uploads.drain(engine, ctx, gateway)
    monkeypatch.undo()
    assert (sent.accepted, sent.rejected, sent.failed) == (12, 0, 0)
    assert {r.state for r in _outbox(engine)} == {"accepted"}
    # one sync to disk for the step's claim (msgids and payloads); the message log's rows of each upload are
    # committed without one: the claim is the intent, a power cut sends the same messages again
    assert commits.count(True) == 1 and commits.count(False) == 2 * 12 + 1, commits
    _assert_centre_is_the_ledger(engine, store)
    assert _purchases_held(store) == _purchases_booked(engine) and _purchases_held(store)[("R000001-001", "3504")] == 101
    rows = {(f["bchno"], f["txn"]): f["row"] for f in store["centre"].held() if f["txn"] in ("3503", "3504")}
    bought_row, gift = rows[("R000001-001", "3503")], rows[("R000001-003", "3503")]
    assert (bought_row["prdr_name"], bought_row["aprvno"], bought_row["spler_name"]) == ("华北制药", "国药准字H2",
                                                                                        "国药控股")
    assert (bought_row["manu_lotnum"], bought_row["dynt_no"], bought_row["purc_invo_no"]) == ("L2601", "SH-20260001",
                                                                                            "FP-0001")
    assert (bought_row["prod_geay_flag"], gift["prod_geay_flag"], gift["finl_trns_pric"]) == ("0", "1", "0.000000")
    amox_back = rows[("R000001-002", "3504")]  # a whole box of 24 capsules: one box, at the box's cost
    assert (amox_back["purc_retn_cnt"], amox_back["finl_trns_pric"], amox_back["purc_invo_no"]) == ("1", "8.000000",
                                                                                                 "FP-0001")
    assert uploads.prove(engine, ctx, today, today, store["centre"])["complete"]
    # a restore: the centre holds a part of the day; the replay re-sends the purchases as it does the sales
    assert store["centre"].forget(today, every=2) > 0
    gap = uploads.prove(engine, ctx, today, today, store["centre"])
    assert not gap["complete"] and {"3503", "3504"} <= {d["txn"] for d in gap["differences"]}, gap
    assert uploads.replay(engine, ctx, today, today, store["centre"])["requeued"] > 0
    uploads.drain(engine, ctx, gateway)
    proof = uploads.prove(engine, ctx, today, today, store["centre"])
    assert proof["complete"], proof
    _assert_centre_is_the_ledger(engine, store)
    assert _purchases_held(store) == _purchases_booked(engine)
    # the amox return was booked wrong: its correcting movement sends 3507 (采购, type 3) for the batch, then its
    # purchase again (the return no longer stands)
    with read_unit(engine) as r:
        wrong = r.connection().execute(sa.text(
            "SELECT m.* FROM stock_movement m JOIN batch b ON b.id = m.batch_id "
            "WHERE b.batch_no = 'R000001-002' AND m.kind = 'purchase_return'")).one()
    with core_unit(engine) as u:
        ledger.append(u, ctx, [ledger.Move(wrong.batch_id, wrong.item_id, wrong.kind, -wrong.qty, wrong.ref_type,
                                           wrong.ref_id, corrects_id=wrong.id, cost_fen=-wrong.cost_fen,
                                           location="sellable", note="退货未发出")])
    queued = [r for r in _outbox(engine) if r.state == "pending"]
    assert [(r.txn, r.inv_data_type) for r in queued] == [("3507", "3"), ("3503", "")]
    sandbox.inject("http_status", "3507", status=502)  # the deletion not taken: the batch's purchase waits for it
    first = uploads.drain(engine, ctx, gateway, clock=lambda: clock.now)
    assert (first.accepted, first.failed) == (0, 1)
    assert [r.state for r in _outbox(engine) if r.id in {q.id for q in queued}] == ["failed", "pending"]
    later = uploads.drain(engine, ctx, gateway, clock=lambda: clock.now + timedelta(minutes=1))
    assert (later.accepted, later.failed) == (2, 0)
    assert [(d["bchno"], d["inv_data_type"], d["deleted"]) for d in store["centre"].deletions()] == [
        ("R000001-002", "3", 2)]
    _assert_centre_is_the_ledger(engine, store)
    assert _purchases_held(store) == _purchases_booked(engine)
    assert ("R000001-002", "3504") not in _purchases_held(store)
    assert uploads.prove(engine, ctx, today, today, store["centre"])["complete"]


def test_a_refused_row_is_derived_again_from_the_corrected_catalog_by_the_administrator_only(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway, clock: Clock, settings: Any,  # noqa: F811
        tmp_path: Path) -> None:
    """The centre refuses the amox purchase (the catalog names no maker): the maker is corrected in the catalog and
    the row derived again; the vitc purchase went out with a wrong 批准文号 and the centre took it: derived again, it
    goes as 3507 for the batch first, then the batch's purchase and return again."""
    shop = store["shop"]
    c, mg, items, today = shop["client"], shop["manager"], shop["items"], clock.today
    _maker(engine, ctx, items["vitc"], "华北制药")
    rid = _deliver(store, [_line(items["vitc"], "Z-OTC", 3, 101, today=today),
                           _line(items["amox"], "Z-RX", 1, 800, "L-AMX", today=today)], ["accepted", "accepted"])
    assert c.post(f"/receipts/{rid}/returns", json={"reason": "破损", "lines": [{"line_no": 1, "qty": 1}]},
                  headers=mg).status_code == 201
    uploads.drain(engine, ctx, gateway)
    refused = next(r for r in _outbox(engine) if r.state == "rejected")
    assert (refused.txn, refused.centre_message) == ("3503", "prdr_name不能为空 / prdr_name is required")
    admin = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
    config, runner = _config(tmp_path, settings), CliRunner()
    # the walk-arounds, none of which writes anything: the maker typed into the row, not the catalog; a cashier;
    # the row derived again before the catalog says more; no note; a row that is not a purchase's or a sale's
    before = _outbox(engine)
    typed = c.post(f"/uploads/{refused.id}/correct", json={"fields": {"prdr_name": "石药集团"}, "note": "补厂家"},
                   headers=admin)
    assert typed.status_code == 422 and typed.json()["code"] == "UPLOAD-CATALOG", typed.text
    assert c.post(f"/uploads/{refused.id}/rederive", json={"note": "x"}, headers=shop["cashier"]).status_code == 403
    same = c.post(f"/uploads/{refused.id}/rederive", json={"note": "重新生成"}, headers=admin)
    assert same.status_code == 409 and same.json()["code"] == "UPLOAD-SAME", same.text
    assert c.post(f"/uploads/{refused.id}/rederive", json={"note": ""}, headers=admin).status_code == 422
    nobody = runner.invoke(app, ["uploads", "rederive", str(refused.id), "--note", "补厂家", "--config", str(config)])
    assert nobody.exit_code == 2  # SEC-01: a named person who may
    assert _outbox(engine) == before
    # the catalog corrected, the row derived again (CLI), sent under a new msgid, taken
    _maker(engine, ctx, items["amox"], "石药集团")
    done = runner.invoke(app, ["uploads", "rederive", str(refused.id), "--note", "目录补录生产厂家", "--config",
                               str(config), "--as", "u_insurance_admin"], input=ROLE_PINS["insurance_admin"] + "\n")
    assert done.exit_code == 0, done.output
    again = next(r for r in _outbox(engine) if r.id == refused.id)
    assert again.state == "pending" and again.msgid == "" and again.payload["prdr_name"] == "石药集团"
    assert uploads.drain(engine, ctx, gateway).accepted == 1
    assert store["centre"].held("R000001-002")[0]["row"]["prdr_name"] == "石药集团"
    # an accepted row gone out wrong: the 批准文号 corrected in the catalog, the row derived again
    took = next(r for r in _outbox(engine) if r.txn == "3503" and r.ref_id and r.state == "accepted"
                and r.payload["fixmedins_bchno"] == "R000001-001")
    assert c.post(f"/uploads/{took.id}/rederive", json={"note": "x"}, headers=admin).json()["code"] == "UPLOAD-SAME"
    _maker(engine, ctx, items["vitc"], "华北制药", approval_no="国药准字H20000002")
    out = c.post(f"/uploads/{took.id}/rederive", json={"note": "批准文号更正"}, headers=admin)
    assert out.status_code == 200, out.text
    queued = [r for r in _outbox(engine) if r.state == "pending"]
    assert [(r.id, r.txn, r.inv_data_type) for r in queued] == [(out.json()["deletion_id"], "3507", "3")] + [
        (i, t, "") for i, t in zip(out.json()["resent"], ("3503", "3504"), strict=True)]
    again_twice = c.post(f"/uploads/{took.id}/rederive", json={"note": "再来"}, headers=admin)
    assert again_twice.status_code == 409 and again_twice.json()["code"] == "UPLOAD-STATE"  # replaced already
    assert uploads.drain(engine, ctx, gateway).accepted == 3
    assert [(d["bchno"], d["inv_data_type"], d["deleted"]) for d in store["centre"].deletions()] == [
        ("R000001-001", "3", 2)]
    held = {f["txn"]: f["row"] for f in store["centre"].held("R000001-001")}
    assert held["3503"]["aprvno"] == "国药准字H20000002" and held["3504"]["purc_retn_cnt"] == "1"
    _assert_centre_is_the_ledger(engine, store)
    assert _purchases_held(store) == _purchases_booked(engine)
    assert uploads.prove(engine, ctx, today, today, store["centre"])["complete"]
    status = c.get("/uploads", headers=admin).json()
    assert status["rejected"] == [] and status["backlog"] == []


def test_the_centre_refuses_a_purchase_or_a_return_missing_what_the_reference_requires() -> None:
    from server.insurance.sandbox.uploads import RowRefused, check

    purchase = {"med_list_codg": "XA11", "fixmedins_hilist_id": "YP0002", "fixmedins_hilist_name": "维生素C片",
                "fixmedins_bchno": "R000001-001", "rx_flag": "0", "spler_name": "国药控股", "manu_lotnum": "L1",
                "prdr_name": "华北制药", "aprvno": "国药准字H2", "manu_date": "2026-01-01", "expy_end": "2028-01-01",
                "purc_retn_cnt": "3", "purc_retn_stoin_time": "2026-12-08 09:00:00", "purc_retn_opter_name": "店长",
                "prod_geay_flag": "0", "finl_trns_pric": "1.01"}
    check("3503", purchase)
    back = {k: v for k, v in purchase.items() if k not in ("prdr_name", "aprvno", "prod_geay_flag")}
    check("3504", back | {"purc_invo_no": "FP-0001"})
    for txn, row, named in (("3503", purchase | {"prod_geay_flag": ""}, "prod_geay_flag"),
                            ("3503", purchase | {"prod_geay_flag": "2"}, "prod_geay_flag"),
                            ("3503", purchase | {"prdr_name": " "}, "prdr_name"),
                            ("3503", purchase | {"purc_retn_cnt": "0"}, "purc_retn_cnt"),
                            ("3503", purchase | {"purc_retn_stoin_time": "2026/12/08"}, "purc_retn_stoin_time"),
                            ("3504", back, "purc_invo_no")):
        with pytest.raises(RowRefused) as refused:
            check(txn, row)
        assert named in refused.value.err_msg
