"""A recall (召回, GSP-06) traces its batch to the insured persons who bought from it by card, their identity numbers
masked (SEC-06)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from catalog.codes import mask_id
from tests.conftest import CardShop
from tests.insurance.conftest import EMPLOYEE
from tests.insurance.test_card_sale import backend, card_shop, paid_by_card  # noqa: F401  (fixtures)


def test_a_recall_lists_the_insured_persons_who_bought_by_card_masked(card_shop: CardShop,  # noqa: F811
                                                                      engine: Engine) -> None:
    c = card_shop["client"]
    sid, sale = paid_by_card(card_shop)
    with engine.connect() as conn:
        batch = conn.execute(text("SELECT id FROM batch WHERE batch_no = 'B-VITC-1'")).scalar_one()
    r = c.post("/recalls", json={"batch_id": batch, "reason": "药监通报召回"}, headers=card_shop["pharmacist"])
    assert r.status_code == 201, r.text
    [buyer] = r.json()["buyers"]
    assert (buyer["sale_id"], buyer["sale_no"], buyer["qty"]) == (sid, sale["sale_no"], 2)
    assert buyer["insured_name"] == EMPLOYEE.name and buyer["insured_id"] == mask_id(EMPLOYEE.certno)
    assert EMPLOYEE.certno not in r.text
