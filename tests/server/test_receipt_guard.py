"""An approved receipt is final in the database too (migration 0021, GSP-05, ST-02): raw SQL that edits or deletes
an approved receipt, its lines or its trace codes is refused by the guard on SQLite and PostgreSQL, and nothing
changes; a receipt not yet approved still moves in place."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import Shop
from tests.server.test_receiving import _line, _receipt, _supplier

CODE = "81234567890123456791"


def _snapshot(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(tuple(map(tuple, conn.execute(text(f"SELECT * FROM {t} ORDER BY id")).all()))
                     for t in ("receipt", "receipt_line", "receipt_trace_code"))


def _refused(engine: Engine, table: str, sql: str, params: dict[str, Any]) -> str | None:
    """None when the database refused the statement with the guard's words; else what happened instead."""
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    except IntegrityError as exc:
        return None if re.search(f"{table}: 已审核入库单不可", str(exc)) else f"{sql}: refused, not by the guard: {exc}"
    return f"{sql}: went through"


@pytest.mark.refuses("GSP-05", "ST-02")
def test_an_approved_receipt_its_lines_and_codes_are_refused_an_edit_or_a_delete(shop: Shop,
                                                                                 engine: Engine) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    sup = _supplier(c, mg, "国药控股", today.replace(year=today.year + 1), ["drugs"], [items["vitc"]])
    made = [_receipt(c, ph, sup, [_line(items["vitc"], "Z-OTC", 4, 180, "LG1", today=today, codes=[code]),
                                  _line(items["vitc"], "Z-OTC", 2, 180, "LG2", today=today)]).json()
            for code in (CODE, CODE[:-1] + "2")]
    approved, draft = made[0]["id"], made[1]["id"]
    verdicts = {"verdicts": [{"line_no": 1, "outcome": "accepted"},
                             {"line_no": 2, "outcome": "rejected", "reason": "批号不符"}]}
    assert c.post(f"/receipts/{approved}/inspection", json=verdicts, headers=ph).status_code == 200
    assert c.post(f"/receipts/{approved}/approve", json={}, headers=mg).status_code == 200
    with engine.connect() as conn:
        accepted, rejected = conn.execute(text("SELECT id FROM receipt_line WHERE receipt_id = :r ORDER BY line_no"),
                                          {"r": approved}).scalars().all()
        other_line = conn.execute(text("SELECT id FROM receipt_line WHERE receipt_id = :r AND line_no = 1"),
                                  {"r": draft}).scalar_one()
        code_id = conn.execute(text("SELECT id FROM receipt_trace_code WHERE code = :c"), {"c": CODE}).scalar_one()
    before = _snapshot(engine)
    tries = [
        ("receipt", "UPDATE receipt SET purc_invo_no = 'FP-FORGED' WHERE id = :i", {"i": approved}),
        ("receipt", "UPDATE receipt SET status = 'inspected' WHERE id = :i", {"i": approved}),  # undo, then edit
        ("receipt", "UPDATE receipt SET approved_by = created_by WHERE id = :i", {"i": approved}),
        ("receipt", "UPDATE receipt SET supplier_id = NULL, kind = 'opening' WHERE id = :i", {"i": approved}),
        ("receipt_line", "UPDATE receipt_line SET qty = 40 WHERE id = :i", {"i": accepted}),
        ("receipt_line", "UPDATE receipt_line SET unit_cost_fen = 1 WHERE id = :i", {"i": accepted}),
        ("receipt_line", "UPDATE receipt_line SET outcome = 'accepted', reason = '' WHERE id = :i", {"i": rejected}),
        ("receipt_line", "UPDATE receipt_line SET batch_id = NULL WHERE id = :i", {"i": accepted}),  # set once
        ("receipt_line", "UPDATE receipt_line SET receipt_id = :r, line_no = 9 WHERE id = :i",  # slipped in
         {"r": approved, "i": other_line}),
        ("receipt_line", "UPDATE receipt_line SET receipt_id = :r, line_no = 9 WHERE id = :i",  # taken out
         {"r": draft, "i": rejected}),
        ("receipt_trace_code", "UPDATE receipt_trace_code SET code = '81234567890123456799' WHERE id = :i",
         {"i": code_id}),
        ("receipt_trace_code", "DELETE FROM receipt_trace_code WHERE id = :i", {"i": code_id}),
        ("receipt_line", "DELETE FROM receipt_line WHERE id = :i", {"i": rejected}),
        ("receipt", "DELETE FROM receipt WHERE id = :i", {"i": approved}),
    ]
    failures = [_refused(engine, table, sql, params) for table, sql, params in tries]
    assert [f for f in failures if f] == []
    assert _snapshot(engine) == before
    # the draft moves in place as before: its inspection's verdicts, its own code put right by hand
    with engine.begin() as conn:
        conn.execute(text("UPDATE receipt SET note = '补录' WHERE id = :i"), {"i": draft})
        conn.execute(text("UPDATE receipt_line SET reason = '待核' WHERE id = :i"), {"i": other_line})
    assert c.post(f"/receipts/{draft}/inspection", json=verdicts, headers=ph).status_code == 200
