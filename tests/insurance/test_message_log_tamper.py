"""The message log with the centre is evidence in a dispute with the agency (ST-02, SEC-04; issue #17): every
2101/2102/2103 request and answer is imaged in the audit chain as it is written and verified row by row, the
database refuses an UPDATE or DELETE of it, and the msgid counter that numbers the messages never goes back.
Each walk-around is done with raw SQL as the database's owner would (the guard lifted first), on SQLite and
PostgreSQL, and `audit verify` names it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from server import audit
from server.db.uow import read_session
from server.services.context import Ctx
from tests.conftest import CardShop
from tests.insurance import test_card_sale as card
from tests.insurance.test_card_sale import paid_by_card
from tests.tamper import behind_the_guard

backend, card_shop = card.backend, card.card_shop  # the card sale's fixtures: both backends, the sandbox centre


def _verify(engine: Engine, ctx: Ctx) -> audit.VerifyReport:
    with read_session(engine) as s:
        return audit.verify(s, ctx.store_id)


def _named(report: audit.VerifyReport) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(p["kind"], p.get("table", ""), tuple(p.get("columns", ()))) for p in report.problems}


def _settled_answer(engine: Engine) -> tuple[int, str, str]:
    """The 2102 answer the sale was settled by: its row id, msgid, body."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, msgid, body FROM insurance_message WHERE infno = '2102' "
                                "AND direction = 'in' AND outcome = 'ok'")).one()
    return int(row.id), str(row.msgid), str(row.body)


def _set_amounts(doc: Any, key: str, value: str) -> int:
    """Every `key` of the answer set to `value` (wherever the centre put it); how many."""
    found = 0
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == key:
                doc[k] = value
                found += 1
            else:
                found += _set_amounts(v, key, value)
    elif isinstance(doc, list):
        found += sum(_set_amounts(v, key, value) for v in doc)
    return found


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_settled_answers_amount_edited_in_the_message_log_is_refused_and_named(card_shop: CardShop,
                                                                                 engine: Engine, ctx: Ctx) -> None:
    paid_by_card(card_shop)
    assert _verify(engine, ctx).ok
    row_id, _, body = _settled_answer(engine)
    answer = json.loads(body)
    assert _set_amounts(answer, "fund_pay_sumamt", "0.01") == 1  # the fund paid a fen: the rest was the person's
    forged = json.dumps(answer, ensure_ascii=False)
    with pytest.raises(IntegrityError, match=r"insurance_message.*(不可修改|refuses this UPDATE)"), engine.begin() as c:
        c.execute(text("UPDATE insurance_message SET body = :b WHERE id = :i"), {"b": forged, "i": row_id})
    assert _settled_answer(engine)[2] == body  # nothing written
    with behind_the_guard(engine, "insurance_message") as conn:
        conn.execute(text("UPDATE insurance_message SET body = :b WHERE id = :i"), {"b": forged, "i": row_id})
    report = _verify(engine, ctx)
    assert _named(report) == {("altered_row", "insurance_message", ("body",))}
    assert report.problems[0]["row_id"] == str(row_id)


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_message_deleted_or_forged_in_the_log_is_refused_and_named(card_shop: CardShop, engine: Engine,
                                                                     ctx: Ctx) -> None:
    paid_by_card(card_shop)
    row_id, msgid, _ = _settled_answer(engine)
    with pytest.raises(IntegrityError, match=r"insurance_message.*(不可删除|refuses this DELETE)"), engine.begin() as c:
        c.execute(text("DELETE FROM insurance_message WHERE id = :i"), {"i": row_id})
    with behind_the_guard(engine, "insurance_message") as conn:  # the answer taken out, a refusal put in its place
        conn.execute(text("INSERT INTO insurance_message (store_id, msgid, infno, direction, at, body, outcome, "
                          "err_msg, inf_refmsgid, opter, elapsed_ms) SELECT store_id, msgid, infno, direction, at, "
                          "'{\"infcode\":-1,\"err_msg\":\"余额不足\"}', 'refused', '余额不足', '', opter, elapsed_ms "
                          "FROM insurance_message WHERE msgid = :m AND direction = 'out'"), {"m": msgid})
        conn.execute(text("DELETE FROM insurance_message WHERE id = :i"), {"i": row_id})
    report = _verify(engine, ctx)
    assert ("missing_row", "insurance_message", ()) in _named(report)
    assert ("unaudited_row", "insurance_message", ()) in _named(report)
    assert {p["kind"] for p in report.problems} == {"missing_row", "unaudited_row"}
    assert [p["row_id"] for p in report.problems if p["kind"] == "missing_row"] == [str(row_id)]


@pytest.mark.refuses("ST-02", "SEC-04")
def test_the_msgid_counter_set_back_or_deleted_is_refused_and_named(card_shop: CardShop, engine: Engine,
                                                                    ctx: Ctx) -> None:
    """Set back, the counter would hand out a msgid again; a reversal (2601) names what it undoes by msgid."""
    paid_by_card(card_shop)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT stamp, seq FROM insurance_msgid_counter")).one()
    for edit in ("UPDATE insurance_msgid_counter SET seq = seq - 1", "UPDATE insurance_msgid_counter SET stamp = "
                 "'20000101000000'", "DELETE FROM insurance_msgid_counter"):
        with pytest.raises(IntegrityError, match="insurance_msgid_counter"), engine.begin() as conn:
            conn.execute(text(edit))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT stamp, seq FROM insurance_msgid_counter")).one() == before
    with behind_the_guard(engine, "insurance_msgid_counter") as conn:
        conn.execute(text("UPDATE insurance_msgid_counter SET stamp = '20000101000000'"))
    report = _verify(engine, ctx)
    assert _named(report) == {("counter_mismatch", "insurance_msgid_counter", ())}
    with behind_the_guard(engine, "insurance_msgid_counter") as conn:
        conn.execute(text("DELETE FROM insurance_msgid_counter"))
    assert _named(_verify(engine, ctx)) == {("counter_mismatch", "insurance_msgid_counter", ())}
