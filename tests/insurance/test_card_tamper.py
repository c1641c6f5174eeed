"""The card's records are tamper-evident too (ST-02, SEC-04, SEC-06; issue #17): a settlement and the insured
person's snapshot refuse an edit once final and are verified row by row; the message log is append-only; a
look-up by a typed ID number is logged with the number masked."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from server import audit
from server.db.models import AuditEntry
from server.db.uow import read_session
from server.privacy import READ
from server.services.context import Ctx
from tests.conftest import BARCODE_VITC, CardShop
from tests.insurance import test_card_sale as card
from tests.insurance.conftest import EMPLOYEE
from tests.insurance.test_card_sale import identify, paid_by_card, sale_with
from tests.tamper import behind_the_guard

backend, card_shop = card.backend, card.card_shop  # the card sale's fixtures: both backends, the sandbox centre


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_card_sales_rows_refuse_edits_and_an_edit_behind_the_guard_is_named(card_shop: CardShop,
                                                                               engine: Engine, ctx: Ctx) -> None:
    sid, _ = paid_by_card(card_shop)
    with read_session(engine) as s:
        assert audit.verify(s, ctx.store_id).ok
    for edit in ("UPDATE card_settlement SET fund_pay_fen = 1", "DELETE FROM card_settlement",
                 "UPDATE sale_insured SET psn_name = 'x'", "DELETE FROM sale_insured",
                 "UPDATE insurance_message SET body = 'x'", "DELETE FROM insurance_message"):
        with pytest.raises(IntegrityError, match=r"(不可修改|不可删除)"), engine.begin() as conn:
            conn.execute(text(edit))
    with behind_the_guard(engine, "card_settlement") as conn:
        conn.execute(text("UPDATE card_settlement SET fund_pay_fen = fund_pay_fen + 100 WHERE sale_id = :s"), {"s": sid})
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert [(p["kind"], p["table"], p["columns"]) for p in report.problems] == [
        ("altered_row", "card_settlement", ["fund_pay_fen"])]


@pytest.mark.refuses("SEC-06")
def test_a_look_up_by_typed_id_number_is_logged_masked(card_shop: CardShop, engine: Engine, ctx: Ctx) -> None:
    sid = sale_with(card_shop, (BARCODE_VITC, 1))
    r = identify(card_shop, sid, method="id", certno=EMPLOYEE.certno, name=EMPLOYEE.name, reason="卡片损坏")
    assert r.status_code == 200, r.text
    with read_session(engine) as s:
        (read,) = s.exec(select(AuditEntry).where(AuditEntry.action == READ).order_by(col(AuditEntry.seq))).all()
        assert audit.verify(s, ctx.store_id).ok
    assert read.actor == "u_cashier" and read.after is not None
    assert read.after["whose"] == read.entity_id != EMPLOYEE.certno and read.after["whose"].endswith(EMPLOYEE.certno[-4:])
    assert read.after["why"] == "卡片损坏" and read.after["name"] == EMPLOYEE.name
    assert read.after["route"] == "POST /sales/{sale_id}/insured (by ID number)"
    assert EMPLOYEE.certno not in str(read.after)
