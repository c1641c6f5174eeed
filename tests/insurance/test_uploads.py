"""The uploads' outbox against the sandbox centre (ST-01, ST-06, issue #21): every 进销存 fact is written with its
event, sent by the worker, read at both levels, never held twice, and what the centre holds per batch is the
store's ledger after every scenario."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import select

from server.audit import Actor
from server.config import ROOT
from server.db.models import User
from server.db.uow import core_unit, read_session, read_unit
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.sandbox.uploads_client import CentreUploads
from server.rules.movements import MovementKind
from server.services import outbox
from server.services.context import Ctx
from server.services.insurance import sign_in as ins_sign_in
from server.services.insurance import uploads
from server.services.stock import batches as stock
from tests.conftest import BARCODE_AMOX, BARCODE_VITC, ROLE_PINS, Clock, Shop, login, mapping_approval, prescribe

NATIONAL = {"amox": "XJ01CAA040A001010100001", "vitc": "XA11GAA000A001010100002"}


def _map(engine: Engine, ctx: Ctx, items: dict[str, int]) -> None:
    from server.services.catalog.items import update_item

    approval = mapping_approval(engine, ctx)
    with core_unit(engine) as u:
        for key, code in NATIONAL.items():
            update_item(u, ctx, items[key], {"nhsa_code": code, "insurance_category": "yi"}, approval)


def _sign_in(engine: Engine, ctx: Ctx, gateway: HttpGateway) -> None:
    with read_session(engine) as s:
        user = s.exec(select(User).where(User.store_id == ctx.store_id, User.username == "u_insurance_admin")).one()
    ins_sign_in.sign_in(engine, ctx.acting(Actor(user.id, user.username)), gateway, "00:1A:2B:3C:4D:5E", "127.0.0.1")


BARCODE_BLG = "6905678901236"  # 板蓝根颗粒: OTC, 10 bags a box, sold split too (made here, mapped)


def _split_otc(engine: Engine, ctx: Ctx) -> int:
    from catalog.codes import gtin_check_digit
    from server.db.models.base import id_of
    from server.services.catalog import items as catalog_service

    assert BARCODE_BLG[-1] == str(gtin_check_digit(BARCODE_BLG[:-1]))
    approval = mapping_approval(engine, ctx)
    with core_unit(engine) as u:
        return id_of(catalog_service.create_item(u, ctx, {
            "code": "YP0009", "name": "板蓝根颗粒", "spec": "10g*10袋", "approval_no": "国药准字Z9", "gsp_class": "otc_a",
            "route": "internal", "price_fen": 1500, "split_unit": "袋", "split_ratio": 10, "split_price_fen": 160,
            "nhsa_code": "ZA01BAB0001010100009", "insurance_category": "jia"}, [BARCODE_BLG], "Z-OTC", approval))


def _pay(shop: Shop, sid: str, total: int) -> Any:
    done = shop["client"].post(f"/sales/{sid}/complete", json={"tenders": [
        {"kind": "cash", "amount_fen": total, "tendered_fen": total}]}, headers=shop["cashier"])
    assert done.status_code == 200, done.text
    return done.json()


@pytest.fixture
def store(shop: Shop, engine: Engine, ctx: Ctx, gateway: HttpGateway, sandbox: SandboxAdmin,
          settings: Any) -> Any:
    """The shop with items mapped, fresh batches (the first inventory: 3501 and its 3502), a cash sale of whole boxes
    and of split bags (3505 ×2), a return (3506); signed in to the centre. Nothing sent yet."""
    _map(engine, ctx, shop["items"])
    with read_unit(engine) as r:  # the ledger before the mapping is not the centre's (it knew no such items)
        cut = int(r.connection().execute(sa.text("SELECT coalesce(max(id), 0) FROM stock_movement")).scalar_one())
    blg = _split_otc(engine, ctx)
    today = shop["clock"].today
    with core_unit(engine) as u:
        stock.add_opening_batch(u, ctx, shop["items"]["vitc"], None, "S-VITC-9", "MANU-LOT-77",
                                today - timedelta(days=90), today + timedelta(days=400), 200, 20)
        stock.add_opening_batch(u, ctx, blg, None, "S-BLG-9", "MANU-LOT-99", today - timedelta(days=90),
                                today + timedelta(days=300), 900, 50)
    c, h = shop["client"], shop["cashier"]
    sid = str(uuid.uuid4())
    assert c.post("/sales", json={"id": sid}, headers=h).status_code == 201
    c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 3}, headers=h)
    body = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_BLG, "qty": 3, "split": True}, headers=h).json()
    sale = _pay(shop, sid, body["total_fen"])
    vitc = next(ln for ln in sale["lines"] if ln["item_code"] == "YP0002")
    back = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "买错了",
                                    "lines": [{"sale_line_id": vitc["id"], "qty": 1}]}, headers=shop["pharmacist"])
    assert back.status_code == 201, back.text
    _sign_in(engine, ctx, gateway)
    centre = CentreUploads(settings.insurance.url, settings.store.fixmedins_code)
    yield {"shop": shop, "centre": centre, "sale": sid, "cut": cut}
    centre.close()


def _outbox(engine: Engine) -> list[Any]:
    with read_unit(engine) as r:
        return list(r.connection().execute(sa.select(outbox.OUT).order_by(outbox.OUT.c.id)))


def _ledger_by_batch(engine: Engine, cut: int) -> Counter[tuple[str, str]]:
    """The store's ledger as the centre should hold it: per (batch serial, transaction) the number of facts, from
    the stock movements of mapped items (the kinds' one list), corrections netted."""
    from server.rules.movements import TYPES

    txn_of = {k.value: t.upload.txn for k, t in TYPES.items() if t.upload}
    with read_unit(engine) as r:
        rows = r.connection().execute(sa.text(
            "SELECT b.batch_no, m.kind, m.id, m.corrects_id FROM stock_movement m JOIN batch b ON b.id = m.batch_id "
            "JOIN item i ON i.id = m.item_id WHERE i.nhsa_code IS NOT NULL AND m.id > :cut ORDER BY m.id"),
            {"cut": cut}).all()
        counted = r.connection().execute(sa.text(
            "SELECT b.batch_no FROM count_line cl JOIN count_sheet cs ON cs.id = cl.sheet_id JOIN batch b ON "
            "b.id = cl.batch_id JOIN item i ON i.id = cl.item_id WHERE cs.status = 'posted' AND "
            "cl.counted_qty IS NOT NULL AND i.nhsa_code IS NOT NULL")).scalars().all()
    cancelled = {r.corrects_id for r in rows if r.corrects_id} | {r.id for r in rows if r.corrects_id}
    out: Counter[tuple[str, str]] = Counter()
    for mv in rows:
        if mv.kind in txn_of and mv.id not in cancelled:
            out[(mv.batch_no, txn_of[mv.kind])] += 1
            if mv.kind == MovementKind.OPENING.value:
                out[(mv.batch_no, "3502")] += 1
    for batch_no in counted:  # a count's 盘存 (3501), batch by batch
        out[(batch_no, "3501")] += 1
    return out


def _assert_centre_is_the_ledger(engine: Engine, store: Any) -> None:
    held = Counter((f["bchno"], f["txn"]) for f in store["centre"].held())
    assert held == _ledger_by_batch(engine, store["cut"])


def test_each_fact_goes_out_once_with_its_event_and_the_centre_holds_the_ledger(store: Any, engine: Engine,
                                                                                ctx: Ctx, gateway: HttpGateway,
                                                                                clock: Clock) -> None:
    shop = store["shop"]
    with core_unit(engine) as u:  # and a prescription drug, sold split on a prescription
        stock.add_opening_batch(u, ctx, shop["items"]["amox"], None, "S-AMOX-9", "MANU-LOT-88",
                                clock.today - timedelta(days=90), clock.today + timedelta(days=20), 800, 24)
    c, h = shop["client"], shop["cashier"]
    sid = str(uuid.uuid4())
    assert c.post("/sales", json={"id": sid}, headers=h).status_code == 201
    body = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_AMOX, "qty": 6, "split": True}, headers=h).json()
    prescribe(shop, sid, [(shop["items"]["amox"], 6, True)])
    _pay(shop, sid, body["total_fen"])
    rows = _outbox(engine)
    # written with the events, before anything was sent: the first inventories (3501 and the 3502 106 with each),
    # the sales' lines, the return; the unmapped items (the seed's batches before the mapping) are not the centre's
    assert Counter(r.txn for r in rows) == {"3501": 3, "3502": 3, "3505": 3, "3506": 1}
    assert {r.state for r in rows} == {"pending"}
    sent = uploads.drain(engine, ctx, gateway)
    assert (sent.accepted, sent.rejected, sent.failed) == (10, 0, 0)
    assert {r.state for r in _outbox(engine)} == {"accepted"}
    _assert_centre_is_the_ledger(engine, store)
    held = {f["txn"]: f["row"] for f in store["centre"].held("S-AMOX-9")}
    sale = held["3505"]
    # the store's own batch serial, never the manufacturer's lot; 拆零 flagged, counted in the units sold
    assert sale["fixmedins_bchno"] == "S-AMOX-9" and sale["manu_lotnum"] == "MANU-LOT-88"
    assert (sale["trdn_flag"], sale["sel_retn_cnt"], sale["rx_flag"]) == ("1", "6", "1")
    assert sale["prsc_dr_name"] == "李医生" and sale["hi_feesetl_type"] == "0"
    assert Decimal(sale["finl_trns_pric"]) * 6 == Decimal("3.60")
    vitc = {f["txn"]: f["row"] for f in store["centre"].held("S-VITC-9")}
    assert (vitc["3505"]["trdn_flag"], vitc["3505"]["sel_retn_cnt"], vitc["3506"]["sel_retn_cnt"]) == ("0", "3", "1")
    assert vitc["3502"]["inv_chg_type"] == "106" and vitc["3501"]["inv_cnt"] == "20.00"
    blg = {f["txn"]: f["row"] for f in store["centre"].held("S-BLG-9")}
    assert (blg["3505"]["trdn_flag"], blg["3505"]["sel_retn_cnt"], blg["3501"]["inv_cnt"]) == ("1", "3", "5.00")
    # the completeness query agrees with the store, day by day
    proof = uploads.prove(engine, ctx, clock.today, clock.today, store["centre"])
    assert proof["complete"] and proof["facts"] == 10, proof
    assert uploads.drain(engine, ctx, gateway).total == 0  # nothing left, nothing sent again


def _states(engine: Engine) -> dict[str, str]:
    return {r.key: r.state for r in _outbox(engine)}


def test_transport_failures_are_retried_with_backoff_and_a_refusal_waits_for_a_person(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway, sandbox: SandboxAdmin, clock: Clock) -> None:
    sandbox.inject("drop", "3505")  # processed and committed, the answer cut off: sent again, held once
    sandbox.inject("twice", "3506")  # delivered twice: held once
    sandbox.inject("http_status", "3501", status=502)  # not processed: sent again
    sandbox.inject("error", "3502", err_msg="库存变更类型与目录不符")  # the centre refuses the content
    now = clock.now

    first = uploads.drain(engine, ctx, gateway, clock=lambda: now)
    assert (first.accepted, first.rejected, first.failed) == (4, 1, 2)
    failed = [r for r in _outbox(engine) if r.state == "failed"]
    assert {r.txn for r in failed} == {"3505", "3501"}
    assert all(r.attempts == 1 and r.last_error and r.next_at > now for r in failed)
    rejected = [r for r in _outbox(engine) if r.state == "rejected"]
    assert [(r.txn, r.centre_message) for r in rejected] == [("3502", "库存变更类型与目录不符")]
    # a failure waits its turn (doubling: 5 s, 10 s …); the refusal is never sent again by itself
    assert uploads.drain(engine, ctx, gateway, clock=lambda: now + timedelta(seconds=1)).total == 0
    later = uploads.drain(engine, ctx, gateway, clock=lambda: now + timedelta(minutes=1))
    assert (later.accepted, later.rejected, later.failed) == (2, 0, 0)
    assert sorted(r.attempts for r in _outbox(engine) if r.txn in ("3505", "3501") and r.attempts > 1) == [2, 2]
    # the same msgid went twice for the dropped one, and the centre holds it once
    dropped = next(r for r in _outbox(engine) if r.txn == "3505" and r.attempts == 2)
    assert len([d for d in sandbox.deliveries(msgid=dropped.msgid)]) == 2
    # the backlog names the refused 3502; the month cannot close while it stands (ST-06)
    with read_unit(engine) as r:
        lag = uploads.backlog(r, ctx.store_id, now + timedelta(hours=30))
        blockers = uploads.month_blockers(r, ctx.store_id, clock.today.replace(day=1), clock.today)
    assert [(b.txn, b.count, b.rejected) for b in lag] == [("3502", 1, 1)]
    from server.rules.uploads import backlog_refusals

    assert [v.rule for v in backlog_refusals(lag, 24)] == ["ST-06"] and not backlog_refusals(lag, 48)
    assert [(v.rule, v.details["txn"]) for v in blockers] == [("ST-06", "3502")]
    # the 医保 administrator sends it again once the centre's side is fixed
    with core_unit(engine) as u:
        assert uploads.retry(u, ctx, [rejected[0].id]) == 1
    assert uploads.drain(engine, ctx, gateway, clock=lambda: now + timedelta(minutes=2)).accepted == 1
    assert set(_states(engine).values()) == {"accepted"}
    _assert_centre_is_the_ledger(engine, store)
    with read_unit(engine) as r:
        assert uploads.month_blockers(r, ctx.store_id, clock.today.replace(day=1), clock.today) == []


@pytest.mark.refuses("ST-02")
def test_a_rejected_row_is_corrected_by_a_person_but_never_its_ledger_facts(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway, sandbox: SandboxAdmin, clock: Clock) -> None:
    """Both levels read: with the centre answering its business result in the output (infcode 0), a malformed row is
    still a rejection; a person corrects what the centre objects to, never a quantity or a batch."""
    store["centre"].result_in_output(True)
    sandbox.inject("error", "3506", err_msg="sel_retn_opter_name不能为空")
    uploads.drain(engine, ctx, gateway)
    row = next(r for r in _outbox(engine) if r.state == "rejected")
    c = store["shop"]["client"]
    admin = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
    # the walk-arounds: a quantity changed through the API, by the 医保 administrator or by a cashier
    before = _outbox(engine)
    r = c.post(f"/uploads/{row.id}/correct", json={"fields": {"sel_retn_cnt": "9"}, "note": "改数量"}, headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "ST-02", r.text
    r = c.post(f"/uploads/{row.id}/correct", json={"fields": {"fixmedins_bchno": "L3"}, "note": "换批号"}, headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "ST-02", r.text
    cashier = c.post(f"/uploads/{row.id}/correct", json={"fields": {"memo": "x"}, "note": "x"},
                     headers=store["shop"]["cashier"])
    assert cashier.status_code == 403
    assert _outbox(engine) == before  # nothing written
    # a wrong time format: the centre answers infcode 0 with a failed business result — still rejected
    bad = c.post(f"/uploads/{row.id}/correct", json={"fields": {"sel_retn_time": "2026/12/07"}, "note": "补录"},
                 headers=admin)
    assert bad.status_code == 200, bad.text
    assert uploads.drain(engine, ctx, gateway).rejected == 1
    again = next(r for r in _outbox(engine) if r.id == row.id)
    assert again.state == "rejected" and "sel_retn_time" in again.centre_message
    good = c.post(f"/uploads/{row.id}/correct", json={"fields": {"sel_retn_time": row.payload["sel_retn_time"],
                                                                 "sel_retn_opter_name": "王药师"}, "note": "补录经办人"},
                  headers=admin)
    assert good.status_code == 200
    assert uploads.drain(engine, ctx, gateway).accepted == 1
    held = {f["txn"]: f["row"] for f in store["centre"].held("S-VITC-9")}
    assert held["3506"]["sel_retn_opter_name"] == "王药师"
    status = c.get("/uploads", headers=admin).json()
    assert status["rejected"] == [] and status["backlog"] == []
    _assert_centre_is_the_ledger(engine, store)


def test_a_corrected_movement_goes_out_as_3507_then_the_batch_sent_again(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway) -> None:
    from server.services.stock import ledger

    uploads.drain(engine, ctx, gateway)
    with read_unit(engine) as r:
        sold = r.connection().execute(sa.text(
            "SELECT m.* FROM stock_movement m JOIN batch b ON b.id = m.batch_id "
            "WHERE b.batch_no = 'S-VITC-9' AND m.kind = 'sale'")).one()
    with core_unit(engine) as u:  # the sale's movement was wrong: a correcting row, opposite sign
        ledger.append(u, ctx, [ledger.Move(sold.batch_id, sold.item_id, sold.kind, -sold.qty, sold.ref_type,
                                           sold.ref_id, corrects_id=sold.id, cost_fen=-sold.cost_fen,
                                           note="更正")])
    queued = [r for r in _outbox(engine) if r.state == "pending"]
    assert [r.txn for r in queued] == ["3507", "3506"]  # the deletion first, then what still stands of the batch
    assert queued[0].inv_data_type == "4" and queued[1].after_id == queued[0].id
    assert uploads.drain(engine, ctx, gateway).accepted == 2
    assert [(d["bchno"], d["inv_data_type"], d["deleted"]) for d in store["centre"].deletions()] == [
        ("S-VITC-9", "4", 2)]
    _assert_centre_is_the_ledger(engine, store)


def test_a_count_goes_out_as_3501_per_batch_and_its_difference_as_3502(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway) -> None:
    shop = store["shop"]
    c, ph, mg = shop["client"], shop["pharmacist"], shop["manager"]
    sheet = c.post("/counts", json={"note": "月末盘点"}, headers=ph).json()  # the whole store
    book = {ln["batch_no"]: ln["book_qty"] for ln in sheet["lines"]}
    assert {"B-VITC-1", "S-VITC-9", "S-BLG-9", "B-AMOX-1"} <= set(book)  # the mapped items' and the others'
    entries = [{"batch_no": no, "loose": qty - (no == "S-VITC-9"), "reason": "破损" if no == "S-VITC-9" else ""}
               for no, qty in book.items()]
    assert c.post(f"/counts/{sheet['id']}/entries", json={"entries": entries}, headers=ph).status_code == 200
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph).status_code == 200
    lost = next(ln["batch_id"] for ln in sheet["lines"] if ln["batch_no"] == "S-VITC-9")
    posted = c.post(f"/counts/{sheet['id']}/post", json={"reasons": {str(lost): "破损"}}, headers=mg)
    assert posted.status_code == 200, posted.text
    counted = [r for r in _outbox(engine) if r.ref_type == "count_line"]
    # one 3501 per batch of a mapped item (amox ×2, vitc ×2, the split OTC), the loss as 3502 盘损 (104)
    assert sorted((r.txn, r.inv_chg_type) for r in counted) == [("3501", "")] * 5 + [("3502", "104")]
    uploads.drain(engine, ctx, gateway)
    assert set(_states(engine).values()) == {"accepted"}
    held = {(f["bchno"], f["txn"]): f["row"] for f in store["centre"].held() if f["row"].get("memo", "").startswith(
        "dd:c")}
    assert held[("S-VITC-9", "3501")]["inv_cnt"] == f"{book['S-VITC-9'] - 1}.00"
    _assert_centre_is_the_ledger(engine, store)


def _config(tmp_path: Path, settings: Any) -> Path:
    config = tmp_path / "config.toml"
    source = (ROOT / "config.toml").read_text(encoding="utf-8")
    config.write_text(source.replace('url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"')
                      .replace('url = "http://127.0.0.1:8601"', f'url = "{settings.insurance.url}"'), encoding="utf-8")
    return config


def test_replay_after_a_reinstall_sends_what_the_centre_lacks_and_proves_each_day(
        store: Any, engine: Engine, ctx: Ctx, gateway: HttpGateway, settings: Any, clock: Clock,
        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from server.cli import app

    uploads.drain(engine, ctx, gateway)
    day = clock.today
    lost = store["centre"].forget(day, every=2)  # the centre holds a part
    assert lost == 4
    assert not uploads.prove(engine, ctx, day, day, store["centre"])["complete"]
    config, runner = _config(tmp_path, settings), CliRunner()
    nobody = runner.invoke(app, ["uploads", "replay", "--from", (day - timedelta(days=3)).isoformat(),
                                 "--config", str(config)])
    assert nobody.exit_code == 2 and _states(engine) and set(_states(engine).values()) == {"accepted"}  # SEC-01
    done = runner.invoke(app, ["uploads", "replay", "--from", (day - timedelta(days=3)).isoformat(), "--config",
                               str(config), "--as", "u_insurance_admin"], input=ROLE_PINS["insurance_admin"] + "\n")
    assert done.exit_code == 0 and "✓ complete" in done.output and "7 facts" in done.output, done.output
    proof = uploads.prove(engine, ctx, day - timedelta(days=3), day, store["centre"])
    assert proof["complete"] and proof["facts"] == 7, proof
    _assert_centre_is_the_ledger(engine, store)  # what it kept was not held twice
    status = runner.invoke(app, ["uploads", "status", "--json", "--config", str(config)])
    assert status.exit_code == 0 and '"backlog": []' in status.output, status.output


@pytest.mark.slow
def test_nothing_is_lost_or_held_twice_across_kill_9_of_the_sender(
        store: Any, engine: Engine, ctx: Ctx, sandbox: SandboxAdmin, settings: Any, tmp_path: Path,
        clock: Clock) -> None:
    """The sender (`dingdian uploads send`, the worker's step in its own process) is killed with SIGKILL while it
    sends — claimed rows committed, answers on their way — three times, then run to the end: every fact is held
    by the centre exactly once and the store's outbox says so."""
    config = _config(tmp_path, settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")}
    command = [str(Path(sys.executable).parent / "dingdian"), "uploads", "send", "--config", str(config)]
    rng = random.Random(21)
    kills = 0
    for _ in range(3):
        sandbox.inject("delay", "", times=3, delay_ms=250)  # slow answers: the kill lands mid-send
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if any(r.state == "sent" for r in _outbox(engine)):
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    assert kills >= 1
    sandbox.clear_faults()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(_states(engine).values()) == {"accepted"}
    assert any(r.attempts > 1 for r in _outbox(engine))  # cut off mid-send, sent again with its msgid
    held = store["centre"].held()
    assert len(held) == 7 == len({(f["txn"], f["row"]["memo"]) for f in held})  # every fact, once
    _assert_centre_is_the_ledger(engine, store)
    assert uploads.prove(engine, ctx, clock.today, clock.today, store["centre"])["complete"]
