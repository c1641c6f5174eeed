"""The inspector's checks on the 进销存: stock never below zero in the period (sales never beyond opening and
receipts), 医保 quantities against the settlements' own lines (tests/insurance/test_ledger_card_check.py on a
real card sale), book vs count with the count documents that explain them."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace as Row

from sqlalchemy import Engine, text

from reports import ledger, ledger_checks
from server.services.context import Ctx
from tests.conftest import seed_shop
from tests.reports import ledger_data


def _batch(engine: Engine, ctx: Ctx, batch_no: str) -> tuple[int, int]:
    with engine.connect() as conn:
        r = conn.execute(text("SELECT id, item_id FROM batch WHERE batch_no = :b AND store_id = :s"),
                         {"b": batch_no, "s": ctx.store_id}).one()
    return int(r[0]), int(r[1])


def test_a_batch_sold_beyond_what_it_held_is_named_where_it_happened(engine: Engine, ctx: Ctx) -> None:
    seed_shop(engine, ctx)  # B-VITC-1 opens with 50
    vitc, item = _batch(engine, ctx, "B-VITC-1")
    day = ctx.today + timedelta(days=1)
    clean = ledger.ledger_report(engine, ctx.store_id, day, day + timedelta(days=1))
    assert clean.checks.shortfalls == [] and clean.checks.verdicts()["stock"] == ledger_checks.OK
    ledger_data.write(engine, [
        ledger_data.movement(ctx.store_id, vitc, item, "sale", -30, -120, -105, day, ref_type="sale_line", ref_id="a"),
        ledger_data.movement(ctx.store_id, vitc, item, "sale", -25, -100, -88, day, ref_type="sale_line", ref_id="b"),
        ledger_data.movement(ctx.store_id, vitc, item, "purchase", 40, 160, 140, day + timedelta(days=1)),
    ])
    report = ledger.ledger_report(engine, ctx.store_id, day, day + timedelta(days=1))
    (short,) = report.checks.shortfalls
    assert (short.batch_id, short.location, short.ref, short.held) == (vitc, "sellable", "sale_line:b", -5)
    assert report.checks.verdicts()["stock"] == ledger_checks.FAIL
    # the closing is what it is (35), not mended; the rows still balance
    row = next(r for r in report.batches if r.batch_id == vitc)
    assert row.closing.qty == 35 and row.balanced(report.layout)


def test_count_differences_without_count_documents_ask_for_a_person(engine: Engine, ctx: Ctx) -> None:
    seed_shop(engine, ctx)
    vitc, item = _batch(engine, ctx, "B-VITC-1")
    day = ctx.today + timedelta(days=1)
    ledger_data.write(engine, [ledger_data.movement(ctx.store_id, vitc, item, "count_loss", -2, -8, -7, day,
                                                    ref_type="count_line", ref_id="7")])
    checks = ledger.ledger_report(engine, ctx.store_id, day, day).checks
    with engine.connect() as conn:
        has_counts = conn.dialect.has_table(conn, "count_line")
    if has_counts:  # stock care is merged: a movement naming no count line is a failure
        assert checks.counts[0].verdict == ledger_checks.FAIL
    else:  # never a silent 合格
        assert not checks.count_documents
        assert [c.verdict for c in checks.counts] == [ledger_checks.MANUAL]
        assert checks.verdicts()["counts"] == ledger_checks.MANUAL
    assert (checks.counts[0].qty, checks.counts[0].ref_id) == (-2, "7")


def test_a_count_difference_is_explained_by_its_posted_count_line_only() -> None:
    moves = [Row(batch_id=1, kind="count_loss", ref_type="count_line", ref_id="7", qty=-2, cost=-8),
             Row(batch_id=1, kind="count_gain", ref_type="count_line", ref_id="8", qty=3, cost=9),
             Row(batch_id=2, kind="count_gain", ref_type="count_line", ref_id="9", qty=1, cost=4),
             Row(batch_id=2, kind="count_loss", ref_type="manual", ref_id="x", qty=-1, cost=-4)]
    docs = [Row(id=7, sheet_id=1, batch_id=1, book_qty=10, counted_qty=8, reason="破损", status="posted",
                business_date="2027-01-05", posted_by=3),
            Row(id=8, sheet_id=1, batch_id=1, book_qty=10, counted_qty=12, reason="", status="posted",
                business_date="2027-01-05", posted_by=3),
            Row(id=9, sheet_id=2, batch_id=2, book_qty=5, counted_qty=6, reason="", status="submitted",
                business_date="2027-01-06", posted_by=None)]
    got = [c.verdict for c in ledger_checks.count_differences(moves, docs)]
    # 8: counted − book is 2, the movement 3; 9: its sheet is not posted; x: no count document at all
    assert got == [ledger_checks.OK, ledger_checks.FAIL, ledger_checks.FAIL, ledger_checks.FAIL]


def test_card_quantities_are_compared_in_the_smallest_unit() -> None:
    units = [Row(id=1, code="YP0001", split_ratio=24), Row(id=2, code="YP0002", split_ratio=1)]
    lines = [Row(id=10, item_id=1, sale_id="s", qty=1, split=False, insurance_category="yi", nhsa_code="X", taken=24),
             Row(id=11, item_id=1, sale_id="s", qty=6, split=True, insurance_category="yi", nhsa_code="X", taken=6),
             Row(id=12, item_id=2, sale_id="s", qty=2, split=False, insurance_category="jia", nhsa_code="Y", taken=2)]
    settled = [Row(id=1, sale_id="s", lines=[{"feedetl_sn": "10", "medins_list_codg": "YP0001", "cnt": "1"},
                                             {"feedetl_sn": "11", "medins_list_codg": "YP0001", "cnt": "6"}])]
    got = {c.code: (c.ledger_qty, c.settled_qty, c.unsettled_qty, c.agrees)
           for c in ledger_checks.card_quantities(settled, lines, units)}
    assert got == {"YP0001": (30, 30, 0, True), "YP0002": (0, 0, 2, True)}
    short = [Row(id=1, sale_id="s", lines=[{"feedetl_sn": "10", "medins_list_codg": "YP0001", "cnt": "1"},
                                           {"feedetl_sn": "11", "medins_list_codg": "YP0001", "cnt": "5"}])]
    (amox, _) = ledger_checks.card_quantities(short, lines, units)
    assert (amox.ledger_qty, amox.settled_qty, amox.agrees) == (30, 29, False)
