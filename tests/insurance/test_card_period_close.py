"""The period close (月结, ST-02) at the card: a settlement dated inside a closed month is refused before 2102 leaves."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine, text

from server.audit import Actor
from server.db.uow import core_unit
from server.services.context import Ctx
from server.services.period import close
from tests.conftest import BARCODE_VITC, CardShop
from tests.insurance.test_card_sale import card_shop, identify, sale_with, settle  # noqa: F401  (a fixture)
from tests.server.test_period_close import SQLITE, _next_month_5th


@SQLITE
@pytest.mark.refuses("ST-02")
def test_a_card_settlement_dated_inside_a_closed_period_is_refused_before_2102_leaves(
        request: pytest.FixtureRequest, engine: Engine, ctx: Ctx, clock: Any) -> None:
    """The clock set back into a closed month: the settlement is refused before anything goes to the centre
    (not settled there and then taken back), and the sale stays open."""
    shop: CardShop = request.getfixturevalue("card_shop")
    month, later = f"{clock.today:%Y-%m}", _next_month_5th(clock.today)
    with time_machine.travel(later, tick=False), core_unit(engine) as u:
        close.close_month(u, Ctx(ctx.store_id, ctx.settings, Actor(None, "u_manager"), later), month)
    c, h = shop["client"], shop["cashier"]
    sid = sale_with(shop, (BARCODE_VITC, 2))
    assert identify(shop, sid).status_code in (200, 201)
    r = settle(shop, sid, 0)
    assert r.status_code == 409 and r.json()["code"] == "ST-02", r.text
    assert shop["sandbox"].deliveries(infno="2102") == []
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM card_settlement")).scalar_one() == 0


@SQLITE
@pytest.mark.refuses("ST-07")
def test_a_month_with_a_card_settlement_never_reconciled_does_not_close(
        request: pytest.FixtureRequest, engine: Engine, ctx: Ctx, clock: Any) -> None:
    """The reconciliation's blocker is asked by the close (wired in the period wing, so the command line's close
    asks it too): a settled card sale whose day was never reconciled keeps the month open, and nothing is written."""
    from server.errors import AppError

    shop: CardShop = request.getfixturevalue("card_shop")
    sid = sale_with(shop, (BARCODE_VITC, 2))
    assert identify(shop, sid).status_code in (200, 201)
    assert settle(shop, sid, 0).status_code == 200
    month, later = f"{clock.today:%Y-%m}", _next_month_5th(clock.today)
    with time_machine.travel(later, tick=False), pytest.raises(AppError) as refused, core_unit(engine) as u:
        close.close_month(u, Ctx(ctx.store_id, ctx.settings, Actor(None, "u_manager"), later), month)
    assert "ST-07" in str(refused.value.details) or refused.value.code == "ST-07", refused.value.details
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM period_close")).scalar_one() == 0
