"""追溯码 received on receipt lines (CODE-TRACE): kept, findable per batch (the 3505 upload), and known to the till's
"sold once" check — a code received as another item, or whose box is not on the shelf (its receipt a draft, its
line rejected or held 待验), is refused at the till and nothing is written; released from quarantine, it sells."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from server.db.uow import read_session
from server.services.context import Ctx
from server.services.stock import trace_codes
from tests.conftest import BARCODE_VITC, Shop
from tests.server.test_receiving import _line, _receipt, _supplier
from tests.server.test_selling import new_sale, scan
from tests.server.test_trace_codes import trace, traced

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

OK, REJECTED, HELD, AS_AMOX, DRAFT, OLD = (f"8123456789012345{n:04d}" for n in range(6))


def _sale_codes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM sale_trace_code")).scalar_one())


@pytest.mark.refuses("GSP-05", "ST-01")
def test_a_code_received_here_is_sold_only_as_its_item_and_only_from_the_shelf(shop: Shop, engine: Engine,
                                                                               ctx: Ctx) -> None:
    c, ph, mg, items, today = shop["client"], shop["pharmacist"], shop["manager"], shop["items"], shop["clock"].today
    vitc, amox = items["vitc"], items["amox"]
    traced(engine, ctx, vitc)
    sup = _supplier(c, mg, "国药控股", today.replace(year=today.year + 1), ["drugs"], [vitc, amox])
    rid = _receipt(c, ph, sup, [_line(vitc, "Z-OTC", 3, 180, "LA", today=today, codes=[OK]),
                                _line(vitc, "Z-OTC", 3, 180, "LB", today=today, codes=[REJECTED]),
                                _line(vitc, "Z-OTC", 3, 180, "LC", today=today, codes=[HELD]),
                                _line(amox, "Z-RX", 1, 800, "LD", today=today, codes=[AS_AMOX])]).json()["id"]
    verdicts = [{"line_no": 1, "outcome": "accepted"}, {"line_no": 2, "outcome": "rejected", "reason": "破损"},
                {"line_no": 3, "outcome": "quarantine", "reason": "待复检"}, {"line_no": 4, "outcome": "accepted"}]
    assert c.post(f"/receipts/{rid}/inspection", json={"verdicts": verdicts}, headers=ph).status_code == 200
    lines = c.post(f"/receipts/{rid}/approve", json={}, headers=mg).json()["lines"]
    draft = _receipt(c, ph, sup, [_line(vitc, "Z-OTC", 1, 180, "LE", today=today, codes=[DRAFT])])
    assert draft.status_code == 201, draft.text
    # kept, and found per batch
    with read_session(engine) as s:
        found = trace_codes.codes_of_batches(s, ctx, [ln["batch_id"] for ln in lines if ln["batch_id"]])
    assert found == {lines[0]["batch_id"]: [OK], lines[2]["batch_id"]: [HELD], lines[3]["batch_id"]: [AS_AMOX]}
    # at the till: the amox box sold as 维生素C, a rejected box, a held box, a box of a draft receipt — refused
    cashier = shop["cashier"]
    sid = new_sale(c, cashier)
    line = scan(c, cashier, sid, BARCODE_VITC, 3).json()["lines"][0]
    before = _sale_codes(engine)
    for code, rule in ((AS_AMOX, "ST-01"), (REJECTED, "GSP-05"), (HELD, "GSP-05"), (DRAFT, "GSP-05")):
        r = trace(shop, sid, line["id"], code)
        assert r.status_code == 409 and r.json()["code"] == rule, (code, r.text)
    assert _sale_codes(engine) == before
    # the accepted box, and a box of stock older than the system (never received here): sold as before
    assert trace(shop, sid, line["id"], OK).status_code == 201
    assert trace(shop, sid, line["id"], OLD).status_code == 201
    # the held box, found fit on re-inspection and released to the shelf: now it sells
    assert c.post(f"/receipts/{rid}/lines/3/release", json={"reason": "复检合格"}, headers=ph).status_code == 200
    assert trace(shop, sid, line["id"], HELD).status_code == 201
