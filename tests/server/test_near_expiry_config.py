"""near_expiry_days is read: a store that sets it to 20 days is neither warned of 阿莫西林's batch 30 days from expiry
at the scan nor asked to pull it (the default 90 does both: test_stock_care)."""

from __future__ import annotations

import pytest

from server.config import Settings
from tests.conftest import BARCODE_AMOX, Shop, make_settings
from tests.server.test_selling import new_sale


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, rules={"near_expiry_days": 20, "report_deadline_day": 10})


def test_a_store_with_twenty_days_is_not_warned_of_a_batch_thirty_days_out(shop: Shop) -> None:
    c, cashier = shop["client"], shop["cashier"]
    sid = new_sale(c, cashier)
    r = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_AMOX, "qty": 1}, headers=cashier)
    assert r.status_code == 201 and r.json()["warnings"] == [], r.text
    listed = {x["batch_no"] for x in c.get("/near-expiry", headers=shop["manager"]).json()}
    assert listed == {"B-MASK-OLD"}  # the expired batch only: B-AMOX-2 (30 days) is not within 20
