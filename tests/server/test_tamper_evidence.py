"""ST-02, SEC-04, RX-08: every record is tamper-evident (issue #17).

A day at the counter — sales paid in cash with an Rx line under a reviewed prescription, trace codes, a
basket changed and voided, a return, a reprint, the shift closed with its Z report — verifies intact. Then
each walk-around is performed and shown refused by the database (the ledger's guard triggers), or, with
the guard lifted as the database's owner could, named by `audit verify`: table, row, columns. A rewrite of
the whole chain verifies as a chain, and is caught by the anchor the Z report printed.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from server import audit
from server.db.models import AgreementStatus, AuditEntry, PrintJob, SaleStatus
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.services.context import Ctx
from server.services.store.profile import record_agreement_event
from tests.conftest import BARCODE_AMOX, BARCODE_VITC, Shop, prescribe
from tests.server.test_selling import new_sale, pay_cash, scan
from tests.server.test_trace_codes import CODE1, CODE2, trace, traced
from tests.tamper import behind_the_guard

PATIENT_ID = "110101199003071234"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _verify(engine: Engine, ctx: Ctx, *anchors: audit.Anchor) -> audit.VerifyReport:
    with read_session(engine) as s:
        return audit.verify(s, ctx.store_id, anchors)


def _named(report: audit.VerifyReport) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(p["kind"], p.get("table", ""), tuple(p.get("columns", ()))) for p in report.problems}


def _one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _wait_printed(engine: Engine, job_id: int) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with read_session(engine) as s:
            job = s.get(PrintJob, job_id)
            if job is not None and job.status == "printed":
                return
        time.sleep(0.05)
    raise AssertionError(f"print job {job_id} not printed")


def busy_day(shop: Shop, engine: Engine, ctx: Ctx) -> dict[str, Any]:
    """The day's normal work, every kind of business row written once at least."""
    c, h, ph = shop["client"], shop["cashier"], shop["pharmacist"]
    traced(engine, ctx, shop["items"]["vitc"])
    with core_unit(engine) as u:  # the 医保协议 signed (an append-only history)
        record_agreement_event(u, ctx, AgreementStatus.ACTIVE, ctx.today, ctx.today + timedelta(days=365), "XY-1",
                               "签订")
    # a cash sale: an Rx line under a reviewed prescription, a traced line with its codes
    paid = new_sale(c, h)
    scan(c, h, paid, BARCODE_AMOX, 1)
    line = scan(c, h, paid, BARCODE_VITC, 2).json()["lines"][1]
    assert trace(shop, paid, line["id"], CODE1).status_code == 201
    assert trace(shop, paid, line["id"], CODE2).status_code == 201
    rx = prescribe(shop, paid, [(shop["items"]["amox"], 1, False)], patient_certno=PATIENT_ID)
    scan_up = c.post(f"/prescriptions/{rx['id']}/attachments", content=PNG,
                     headers=shop["cashier"] | {"Content-Type": "image/png"})
    assert scan_up.status_code == 201, scan_up.text
    done = pay_cash(c, h, paid, 1250 + 700, 2000)
    assert done.status_code == 200, done.text
    # a basket changed, suspended, resumed and voided
    voided = new_sale(c, h)
    first = scan(c, h, voided, BARCODE_VITC, 3).json()["lines"][0]
    assert c.patch(f"/sales/{voided}/lines/{first['id']}", json={"qty": 1}, headers=h).status_code == 200
    extra = scan(c, h, voided, BARCODE_AMOX, 2, split=True).json()["lines"][1]
    assert c.delete(f"/sales/{voided}/lines/{extra['id']}", headers=h).status_code == 200
    assert c.post(f"/sales/{voided}/suspend", headers=h).status_code == 200
    assert c.post(f"/sales/{voided}/resume", headers=h).status_code == 200
    assert c.post(f"/sales/{voided}/void", json={"reason": "顾客不要了"}, headers=ph).status_code == 200
    # a return of one box of the traced line, a receipt reprinted
    back = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": paid, "reason": "顾客退回一盒",
                                    "lines": [{"sale_line_id": line["id"], "qty": 1}]}, headers=ph)
    assert back.status_code == 201, back.text
    assert c.post(f"/sales/{paid}/receipt", headers=h).status_code == 201
    # the receipt printed (laid out by the worker), the shift closed with its Z report
    with read_session(engine) as s:
        receipt_job = s.exec(select(PrintJob).where(PrintJob.ref == paid, PrintJob.kind == "receipt")
                             .order_by(col(PrintJob.id))).first()
    assert receipt_job is not None
    _wait_printed(engine, id_of(receipt_job))
    closed = c.post(f"/shifts/{shop['shift_id']}/close", json={"counted_cash_fen": 20000 + 1950 - 350}, headers=h)
    assert closed.status_code == 200, closed.text
    with read_session(engine) as s:
        z = s.exec(select(PrintJob).where(PrintJob.kind == "z_report")).one()
    return {"paid": paid, "voided": voided, "line": line, "rx": rx, "return": back.json(), "receipt": receipt_job,
            "z": z, "scan": scan_up.json()}


def test_a_days_normal_work_verifies_intact(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    day = busy_day(shop, engine, ctx)
    report = _verify(engine, ctx)
    assert report.ok, report.problems
    tables = set()
    with read_session(engine) as s:
        for e in s.exec(select(AuditEntry).where(AuditEntry.store_id == ctx.store_id)):
            tables.add(e.entity)
            for key in audit.NESTED.get(e.entity, {}):
                if e.after and e.after.get(key):
                    tables.add(audit.NESTED[e.entity][key])
    # every business table the day wrote is imaged in the chain
    assert {"sale", "sale_line", "tender", "sale_return", "sale_return_line", "refund", "rx_review",
            "prescription_line", "shift", "pharmacist_duty", "print_job", "sale_trace_code",
            "stock_movement"} <= tables
    assert report.rows_checked > 50
    # the Z report carries the chain's head as it stood, and the chain still passes through it
    anchor = audit.Anchor.parse(day["z"].document["audit_anchor"])
    assert anchor.seq > 0 and _verify(engine, ctx, anchor).ok


# --- walk-arounds: the guard lifted, the edit named ---------------------------------------------------------

@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_tenders_kind_edited_by_hand_is_named(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    day = busy_day(shop, engine, ctx)
    tender = _one(engine, "SELECT id FROM tender WHERE sale_id = :s", s=day["paid"])
    with behind_the_guard(engine, "tender") as conn:
        conn.execute(text("UPDATE tender SET kind = 'insurance' WHERE id = :i"), {"i": tender})
    report = _verify(engine, ctx)
    assert _named(report) == {("altered_row", "tender", ("kind",))}
    assert report.problems[0]["row_id"] == str(tender)


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_lines_price_edited_by_hand_is_named(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    day = busy_day(shop, engine, ctx)
    with behind_the_guard(engine, "sale_line") as conn:
        conn.execute(text("UPDATE sale_line SET unit_price_fen = 1 WHERE id = :i"), {"i": day["line"]["id"]})
    report = _verify(engine, ctx)
    assert _named(report) == {("altered_row", "sale_line", ("unit_price_fen",))}
    assert report.problems[0]["row_id"] == str(day["line"]["id"])


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_sales_total_edited_by_hand_is_named(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    day = busy_day(shop, engine, ctx)
    with behind_the_guard(engine, "sale") as conn:
        conn.execute(text("UPDATE sale SET total_fen = total_fen - 700 WHERE id = :i"), {"i": day["paid"]})
    report = _verify(engine, ctx)
    # against its completion's image, and against the sum of its lines
    assert _named(report) == {("altered_row", "sale", ("total_fen",))}
    assert {p["row_id"] for p in report.problems} == {day["paid"]} and len(report.problems) == 2


@pytest.mark.refuses("ST-02", "SEC-04", "RX-08")
def test_a_pharmacists_review_deleted_by_hand_is_named(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    day = busy_day(shop, engine, ctx)
    review = _one(engine, "SELECT id FROM rx_review WHERE prescription_id = :p", p=day["rx"]["id"])
    with behind_the_guard(engine, "rx_review") as conn:
        conn.execute(text("DELETE FROM rx_review WHERE id = :i"), {"i": review})
    report = _verify(engine, ctx)
    assert _named(report) == {("missing_row", "rx_review", ())}
    assert report.problems[0]["row_id"] == str(review)


@pytest.mark.refuses("ST-02", "SEC-04", "RX-08")
def test_rows_deleted_or_slipped_in_behind_the_service_are_named(shop: Shop, engine: Engine,
                                                                  ctx: Ctx) -> None:
    """A stock movement taken out (the balance left as it was), a tender slipped in, a receipt stub rewritten."""
    day = busy_day(shop, engine, ctx)
    movement = _one(engine, "SELECT min(id) FROM stock_movement WHERE ref_type = 'sale_line' AND ref_id = :r",
                    r=str(day["line"]["id"]))
    with behind_the_guard(engine, "stock_movement", "tender", "print_job") as conn:
        conn.execute(text("DELETE FROM stock_movement WHERE id = :i"), {"i": movement})
        conn.execute(text("INSERT INTO tender (store_id, sale_id, kind, amount_fen, tendered_fen, reference) "
                          "VALUES (:s, :sale, 'cash', 100, 100, '')"), {"s": ctx.store_id, "sale": day["voided"]})
        conn.execute(text("UPDATE print_job SET document = :d WHERE id = :i"),
                     {"d": '{"total_fen": 1}', "i": day["receipt"].id})
    named = _named(_verify(engine, ctx))
    assert ("missing_row", "stock_movement", ()) in named  # its sale's entry imaged it
    assert ("balance_mismatch", "batch_balance", ()) in named  # the balance no longer sums the ledger
    assert ("unaudited_row", "tender", ()) in named
    assert ("altered_row", "print_job", ("document",)) in named  # the receipt stub (RX-08)


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_rewrite_of_the_whole_chain_is_caught_by_the_anchor(shop: Shop, engine: Engine,
                                                              ctx: Ctx) -> None:
    """The owner of the database edits a tender, its sale's entry, and recomputes every hash after it: the
    chain verifies as a chain — only the head written down outside the database shows the rewrite."""
    day = busy_day(shop, engine, ctx)
    anchor = audit.Anchor.parse(day["z"].document["audit_anchor"])
    printed = audit.Anchor(anchor.seq, anchor.hash[:audit.ANCHOR_MIN_HEX])  # as typed back from the paper
    with behind_the_guard(engine, "tender", "audit_entry", "audit_head") as conn:
        conn.execute(text("UPDATE tender SET amount_fen = 1, tendered_fen = 1 WHERE sale_id = :s"), {"s": day["paid"]})
        _rewrite_chain(conn, ctx.store_id, day["paid"])
    assert _verify(engine, ctx).ok  # the forgery is consistent
    report = _verify(engine, ctx, printed)
    assert [p["kind"] for p in report.problems] == ["anchor_mismatch"] and report.problems[0]["seq"] == anchor.seq


def _rewrite_chain(conn: Any, store_id: int, sale_id: str) -> None:
    from server.db.models.base import table_of

    entries = table_of(AuditEntry)
    rows = [r._asdict() for r in conn.execute(entries.select().where(entries.c.store_id == store_id)
                                              .order_by(entries.c.seq))]
    prev = audit.GENESIS
    for r in rows:
        if r["action"] == "sale.complete" and r["entity_id"] == sale_id:
            r["after"] = r["after"] | {"tenders": [t | {"amount_fen": 1, "tendered_fen": 1}
                                                   for t in r["after"]["tenders"]]}
        r["prev_hash"] = prev
        r["hash"] = audit._hash_of(r["store_id"], r["seq"], r["at"], r["user_id"], r["actor"], r["action"],
                                   r["entity"], r["entity_id"], r["before"], r["after"], r["note"], prev)
        conn.execute(entries.update().where(entries.c.id == r["id"]).values(
            after=r["after"], prev_hash=r["prev_hash"], hash=r["hash"]))
        prev = r["hash"]
    conn.execute(text("UPDATE audit_head SET hash = :h WHERE store_id = :s"), {"h": prev, "s": store_id})


@pytest.mark.refuses("ST-02", "SEC-04")
def test_cli_audit_verify_takes_the_anchor(shop: Shop, engine: Engine, ctx: Ctx, settings: Any,
                                           tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from server.cli import app
    from server.config import ROOT

    day = busy_day(shop, engine, ctx)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    runner = CliRunner()
    head = runner.invoke(app, ["audit", "verify", "--config", str(config), "--head"])
    assert head.exit_code == 0 and audit.Anchor.parse(head.output.strip()).seq > 0
    anchor = day["z"].document["audit_anchor"]
    ok = runner.invoke(app, ["audit", "verify", "--config", str(config), "--anchor", anchor[:30]])
    assert ok.exit_code == 0 and "audit chain intact" in ok.output, ok.output
    with behind_the_guard(engine, "tender", "audit_entry", "audit_head") as conn:
        _rewrite_chain(conn, ctx.store_id, day["paid"])  # no data changed, the chain forged anyway
    bad = runner.invoke(app, ["audit", "verify", "--config", str(config), "--anchor", anchor[:30]])
    assert bad.exit_code == 1 and "the chain was rewritten" in bad.output
    wrong = runner.invoke(app, ["audit", "verify", "--config", str(config), "--anchor", "12:abc"])
    assert wrong.exit_code == 2


# --- the database's guard ------------------------------------------------------------------------------------

# (table, a row of the busy day, the UPDATE tried, refused): every ledger table refuses an edit of a final row
_EDITS = [
    ("sale", "SELECT id FROM sale WHERE status = 'completed'", "UPDATE sale SET total_fen = 1 WHERE id = :i"),
    ("sale", "SELECT id FROM sale WHERE status = 'voided'", "UPDATE sale SET status = 'open' WHERE id = :i"),
    ("sale_line", "SELECT min(id) FROM sale_line", "UPDATE sale_line SET unit_price_fen = 1 WHERE id = :i"),
    ("sale_line", "SELECT min(id) FROM sale_line", "UPDATE sale_line SET qty = 9 WHERE id = :i"),
    ("tender", "SELECT min(id) FROM tender", "UPDATE tender SET kind = 'insurance' WHERE id = :i"),
    ("sale_return", "SELECT id FROM sale_return", "UPDATE sale_return SET total_fen = 1 WHERE id = :i"),
    ("sale_return_line", "SELECT min(id) FROM sale_return_line", "UPDATE sale_return_line SET qty = 9 WHERE id = :i"),
    ("refund", "SELECT min(id) FROM refund", "UPDATE refund SET amount_fen = 1 WHERE id = :i"),
    ("prescription", "SELECT min(id) FROM prescription", "UPDATE prescription SET patient_name = 'x' WHERE id = :i"),
    ("prescription", "SELECT min(id) FROM prescription", "UPDATE prescription SET status = 'pending' WHERE id = :i"),
    ("prescription_line", "SELECT min(id) FROM prescription_line",
     "UPDATE prescription_line SET qty = 9 WHERE id = :i"),
    ("rx_review", "SELECT min(id) FROM rx_review", "UPDATE rx_review SET verdict = 'rejected' WHERE id = :i"),
    ("shift", "SELECT min(id) FROM shift WHERE status = 'closed'", "UPDATE shift SET counted_cash_fen = 1 WHERE id = :i"),
    ("pharmacist_duty", "SELECT min(id) FROM pharmacist_duty WHERE off_at IS NOT NULL",
     "UPDATE pharmacist_duty SET off_at = NULL WHERE id = :i"),
    ("print_job", "SELECT min(id) FROM print_job WHERE status = 'printed' AND kind = 'receipt'",
     "UPDATE print_job SET document = '{}' WHERE id = :i"),
    ("print_job", "SELECT min(id) FROM print_job", "UPDATE print_job SET ref = 'x' WHERE id = :i"),
    ("sale_trace_code", "SELECT min(id) FROM sale_trace_code", "UPDATE sale_trace_code SET code = 'x' WHERE id = :i"),
    ("sale_trace_code", "SELECT min(id) FROM sale_trace_code WHERE returned_in IS NOT NULL",
     "UPDATE sale_trace_code SET returned_in = NULL WHERE id = :i"),
    ("stock_movement", "SELECT min(id) FROM stock_movement", "UPDATE stock_movement SET qty = 1 WHERE id = :i"),
    ("batch_balance", "SELECT min(batch_id) FROM batch_balance", "UPDATE batch_balance SET item_id = 0 WHERE batch_id = :i"),
    ("day_counter", "SELECT max(last_no) FROM day_counter", "UPDATE day_counter SET last_no = last_no + 5 WHERE last_no = :i"),
    ("audit_entry", "SELECT max(seq) FROM audit_entry", "UPDATE audit_entry SET note = 'x' WHERE seq = :i"),
    ("audit_head", "SELECT max(seq) FROM audit_head", "UPDATE audit_head SET seq = seq - 1 WHERE seq = :i"),
    ("agreement_event", "SELECT min(id) FROM agreement_event", "UPDATE agreement_event SET reason = 'x' WHERE id = :i"),
    ("rx_attachment", "SELECT min(id) FROM rx_attachment", "UPDATE rx_attachment SET data = :b WHERE id = :i"),
    ("service_start", "SELECT min(id) FROM service_start", "UPDATE service_start SET digest = 'x' WHERE id = :i"),
]
# (the card's tables and the centre's message log: tests/insurance/test_card_tamper.py, where a card sale is made)
_GUARDED = sorted({t for t, _, _ in _EDITS} - {"insurance_message"} | {"rx_attachment"})


@pytest.fixture
def day(shop: Shop, engine: Engine, ctx: Ctx) -> dict[str, Any]:
    return busy_day(shop, engine, ctx)


def _refused(engine: Engine, table: str, verb: str, sql: str, params: dict[str, Any]) -> str | None:
    """None when the database refused the statement with the guard's words; else what happened instead."""
    words = "不可修改|refuses this UPDATE" if verb == "UPDATE" else "不可删除|refuses this DELETE"
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    except IntegrityError as exc:
        return None if re.search(f"{table}.*({words})", str(exc)) else f"{sql}: refused, but not by the guard: {exc}"
    return f"{sql}: went through"


# One busy day per backend, every statement tried against it: a refused statement changes nothing, so the tries
# need no fresh day each (a day is seconds of setup; there are some fifty tries).
@pytest.mark.refuses("ST-02", "SEC-04", "RX-08")
def test_the_ledger_refuses_an_update(day: dict[str, Any], engine: Engine) -> None:
    failures = []
    for table, find, edit in _EDITS:
        row = _one(engine, find)
        assert row is not None, f"the day wrote no {table} row to try"
        failures.append(_refused(engine, table, "UPDATE", edit, {"i": row, "b": b"forged"}))
    assert [f for f in failures if f] == []


@pytest.mark.refuses("ST-02", "SEC-04", "RX-08")
def test_the_ledger_refuses_a_delete(day: dict[str, Any], engine: Engine) -> None:
    failures = []
    for table in _GUARDED:
        assert _one(engine, f"SELECT count(*) FROM {table}") > 0, f"the day wrote no {table} row to try"
        failures.append(_refused(engine, table, "DELETE", f"DELETE FROM {table}", {}))
    assert [f for f in failures if f] == []


@pytest.mark.refuses("ST-02")
def test_an_open_baskets_lines_may_change_a_paid_ones_never(shop: Shop, engine: Engine) -> None:
    """What the guard lets through is what the service does: a basket's lines while it is open."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    line = scan(c, h, sid, BARCODE_VITC, 2).json()["lines"][0]
    with engine.begin() as conn:  # the service's own edits of an open basket, here by hand: let through
        conn.execute(text("UPDATE sale_line SET qty = 3, amount_fen = 1050 WHERE id = :i"), {"i": line["id"]})
        conn.execute(text("UPDATE sale SET total_fen = 1050 WHERE id = :i"), {"i": sid})
    assert pay_cash(c, h, sid, 1050, 1050).status_code == 200
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE sale_line SET qty = 2, amount_fen = 700 WHERE id = :i"), {"i": line["id"]})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM sale_line WHERE id = :i"), {"i": line["id"]})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE sale SET status = :s WHERE id = :i"), {"s": SaleStatus.VOIDED.value, "i": sid})


# (every guard in place at the head revision: tests/server/test_evidence.py, from server.evidence)


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_store_upgraded_with_data_verifies_and_its_older_rows_count_as_legacy(engine: Engine, ctx: Ctx,
                                                                               clock: Any) -> None:
    """Rows written before migration 0011 by code that did not image them are legacy (counted, not judged);
    a row slipped in after the upgrade is named."""
    from alembic import command

    from server.db.migrate import alembic_config, upgrade
    from tests.conftest import seed_shop

    seed_shop(engine, ctx)
    insert_job = text("INSERT INTO print_job (store_id, till_code, kind, ref, reprint, document, status, attempts, "
                      "last_error, created_by, created_at) VALUES (:s, 'T01', 'receipt', :ref, :f, '{}', 'pending', 0, "
                      "'', NULL, :at)")
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    with engine.begin() as conn:  # as the code before 0011 queued a receipt: no image of it
        conn.execute(insert_job, {"s": ctx.store_id, "ref": "old-sale", "f": False, "at": clock.now})
    upgrade(engine)
    report = _verify(engine, ctx)
    assert report.ok, report.problems
    assert report.legacy_rows >= 1
    with read_session(engine) as s:
        coverage, later = s.exec(select(AuditEntry).where(AuditEntry.action == audit.COVERAGE)
                                 .order_by(col(AuditEntry.seq))).all()
    assert coverage.after is not None and coverage.after["tables"]["print_job"] is not None
    assert later.after is not None and later.after["revision"] == "0016"  # the message log, the sessions
    assert set(later.after["tables"]) == {"insurance_message", "auth_session"}
    with engine.begin() as conn:  # after the upgrade, the same is tampering
        conn.execute(insert_job, {"s": ctx.store_id, "ref": "new-sale", "f": False, "at": clock.now})
    assert _named(_verify(engine, ctx)) == {("unaudited_row", "print_job", ())}
