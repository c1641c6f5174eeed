"""The 进销存's 医保 check on a real card sale (both backends): what left stock for the settled lines equals the
quantity on the settlement's own lines; a sale movement on a settled line beyond what was settled is named."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from reports import ledger, ledger_checks
from server.services.context import Ctx
from tests.conftest import BACKENDS, CardShop
from tests.insurance.test_card_sale import card_shop, paid_by_card
from tests.reports import ledger_data

__all__ = ["card_shop"]  # the fixture, used by name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_card_quantity_equals_the_settled_lines(card_shop: CardShop, engine: Engine, ctx: Ctx) -> None:
    sid, _sale = paid_by_card(card_shop)  # 2 × 维生素C (甲, card) and 1 mask (not 医保)
    today = card_shop["clock"].today
    report = ledger.ledger_report(engine, ctx.store_id, today, today)
    vitc = card_shop["items"]["vitc"]
    (row,) = report.checks.card
    assert (row.item_id, row.ledger_qty, row.settled_qty, row.agrees) == (vitc, 2, 2, True)
    assert report.checks.verdicts()["card"] == ledger_checks.OK
    assert next(r for r in report.items if r.item_id == vitc).col("out_sale").qty == 2
    # one more unit taken from stock for the settled line, not on the settlement: the check names the item
    with engine.connect() as conn:
        line_id, batch_id = conn.execute(text(
            "SELECT l.id, m.batch_id FROM sale_line l JOIN stock_movement m ON m.ref_id = CAST(l.id AS VARCHAR(40)) "
            "AND m.ref_type = 'sale_line' WHERE l.sale_id = :s AND l.item_id = :i"), {"s": sid, "i": vitc}).one()
    ledger_data.write(engine, [ledger_data.movement(ctx.store_id, batch_id, vitc, "sale", -1, -2, -4, today,
                                                    ref_type="sale_line", ref_id=str(line_id))])
    after = ledger.ledger_report(engine, ctx.store_id, today, today).checks
    (row,) = after.card
    assert (row.ledger_qty, row.settled_qty, row.agrees) == (3, 2, False)
    assert after.verdicts()["card"] == ledger_checks.FAIL
