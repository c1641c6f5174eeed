"""One refusal, one body: what refuses a completion is asked by one function (server.rules.completion via
sale.completion.refusal_check) for the cash payment and for the card's precheck before 2102. A sale
refused for the same reason gets the same answer whichever tender it is paid with — and nothing reaches
the centre (no 2102 to reverse)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from server.db.uow import core_unit, orm
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from tests.conftest import BARCODE_VITC, CardShop, Shop
from tests.insurance.test_card_sale import card_shop, identify, sale_with  # noqa: F401  (card_shop: a fixture)


def _pay_cash(shop: Shop, sid: str, amount: int) -> Any:
    return shop["client"].post(f"/sales/{sid}/complete", json={"tenders": [
        {"kind": "cash", "amount_fen": amount, "tendered_fen": amount}]}, headers=shop["cashier"])


def _settle_card(shop: Shop, sid: str) -> Any:
    return shop["client"].post(f"/sales/{sid}/card/settle", json={"tenders": []}, headers=shop["cashier"])


def test_a_missing_trace_code_is_refused_with_the_same_body_for_cash_and_card(
        card_shop: CardShop, engine: Engine, ctx: Ctx) -> None:  # noqa: F811
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, card_shop["items"]["vitc"], {"traced": True})
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    assert identify(card_shop, sid).status_code == 200
    deliveries = len(card_shop["sandbox"].deliveries(infno="2102"))

    card = _settle_card(card_shop, sid)
    cash = _pay_cash(card_shop, sid, 700)

    assert card.status_code == cash.status_code == 422, (card.text, cash.text)
    assert card.json() == cash.json()
    assert card.json()["code"] == "TRACE-MISSING"
    assert card.json()["details"]["lines"] == [{"line_id": card.json()["details"]["line_id"], "needed": 2, "scanned": 0}]
    assert len(card_shop["sandbox"].deliveries(infno="2102")) == deliveries  # refused before the centre was asked


def test_a_sale_moved_off_the_tills_shift_is_refused_with_the_same_body_for_cash_and_card(
        card_shop: CardShop, engine: Engine, ctx: Ctx) -> None:  # noqa: F811
    """The till and shift check: once worded twice (SALE-TILL for the card, SHIFT-CLOSED for cash)."""
    from sqlmodel import select

    from server.db.models import Sale, Shift

    sid = sale_with(card_shop, (BARCODE_VITC, 1))
    assert identify(card_shop, sid).status_code == 200
    with core_unit(engine) as u:  # another shift of the same till: the sale's shift is no longer the open one
        sale = orm(u).exec(select(Sale).where(Sale.id == sid)).one()
        old = orm(u).get(Shift, sale.shift_id)
        assert old is not None
        old.status = "closed"
        orm(u).add(old)
        orm(u).add(Shift(store_id=old.store_id, till_id=old.till_id, business_date=old.business_date, float_fen=0,
                    opened_by=old.opened_by, opened_at=old.opened_at))

    card = _settle_card(card_shop, sid)
    cash = _pay_cash(card_shop, sid, 350)

    assert card.status_code == cash.status_code == 409, (card.text, cash.text)
    assert card.json() == cash.json()
    assert card.json()["code"] == "SHIFT-CLOSED"
