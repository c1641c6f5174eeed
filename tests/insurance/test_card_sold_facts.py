"""The card settles a line by what was true when it was sold (issue #17): the 2101/2102 request reads the sale
line's snapshot (class, 医保 category, national code, mapping upload day), not today's catalog, and the line keeps
what the centre settled. The walk-around: after the scan, the item's national code and category are changed in
the catalog with the approval they need (and recorded uploaded), then the sale is settled. On both backends."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from server import audit
from server.db.uow import read_session
from server.services.context import Ctx
from tests.conftest import BARCODE_VITC, CONFIRM_MAPPING, CardShop, by_second_admin
from tests.insurance import test_card_sale as card
from tests.insurance.conftest import CODES, TRACED_CODES
from tests.insurance.test_card_sale import identify, sale_with, settle

backend, card_shop = card.backend, card.card_shop  # the card sale's fixtures: both backends, the sandbox centre

NEW_CODE = TRACED_CODES["yi"]  # another drug's national code, 乙类: a remapping after the scan


def _sent_codes(engine: Engine, infno: str) -> list[list[str]]:
    """Each `infno` request's drugdetail codes as the message log kept them (what left the store)."""
    with engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM insurance_message WHERE infno = :n AND direction = 'out' "
                                   "ORDER BY id"), {"n": infno}).scalars().all()
    return [[d["med_list_codg"] for d in json.loads(b)["input"]["drugdetail"]] for b in bodies]


def test_a_remapping_after_the_scan_does_not_change_what_is_settled(card_shop: CardShop, engine: Engine,
                                                                    ctx: Ctx) -> None:
    c, h, admin, vitc = card_shop["client"], card_shop["cashier"], card_shop["admin"], card_shop["items"]["vitc"]
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    # the catalog changes after the scan, as it may: two 医保 administrators, a reason, then recorded uploaded
    r = c.patch(f"/items/{vitc}/mapping", json={"nhsa_code": NEW_CODE, "insurance_category": "yi"} | CONFIRM_MAPPING,
                headers=by_second_admin(c, admin, "mapping.write", str(vitc)))
    assert r.status_code == 200, r.text
    r = c.post("/items/mapping-uploaded", json={"item_ids": [vitc]} | CONFIRM_MAPPING,
               headers=by_second_admin(c, admin, "mapping.write"))
    assert r.status_code == 200, r.text
    assert identify(card_shop, sid).status_code == 200
    [line] = c.get(f"/sales/{sid}/card/split", headers=h).json()["lines"]
    assert line["card"], line
    preview = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert preview.status_code == 200, preview.text
    done = settle(card_shop, sid, preview.json()["due_otherwise_fen"])
    assert done.status_code == 200, done.text
    # what left for the centre, 2101 and 2102: the code the line was sold under
    assert _sent_codes(engine, "2101") == [[CODES["jia"]]]
    assert _sent_codes(engine, "2102") == [[CODES["jia"]]]
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT nhsa_code, insurance_category FROM sale_line WHERE sale_id = :s"),
                            {"s": sid}).one()
        settled = conn.execute(text("SELECT lines FROM card_settlement WHERE sale_id = :s"), {"s": sid}).scalar_one()
    # the line keeps what the centre settled; the settlement's own record says the same
    assert tuple(kept) == (CODES["jia"], "jia")
    assert CODES["jia"] in json.dumps(settled) and NEW_CODE not in json.dumps(settled)
    with read_session(engine) as s:
        assert audit.verify(s, ctx.store_id).ok


def test_a_mapping_uploaded_after_the_scan_counts_for_the_code_sold(card_shop: CardShop) -> None:
    """CARD-07 reads the upload of the code the line was sold under: recorded after the scan for that same code,
    the centre has it; for another code, it does not make the line's code known to the centre."""
    c, h, admin, vitc = card_shop["client"], card_shop["cashier"], card_shop["admin"], card_shop["items"]["vitc"]
    r = c.patch(f"/items/{vitc}/mapping", json={"nhsa_code": NEW_CODE, "insurance_category": "yi"} | CONFIRM_MAPPING,
                headers=by_second_admin(c, admin, "mapping.write", str(vitc)))
    assert r.status_code == 200, r.text  # a new code: its upload waits for the centre (CARD-07)
    sid = sale_with(card_shop, (BARCODE_VITC, 1))
    assert identify(card_shop, sid).status_code == 200
    [line] = c.get(f"/sales/{sid}/card/split", headers=h).json()["lines"]
    assert not line["card"] and "CARD-07" in {x["code"] for x in line["reasons"]}, line
    r = c.post("/items/mapping-uploaded", json={"item_ids": [vitc]} | CONFIRM_MAPPING,
               headers=by_second_admin(c, admin, "mapping.write"))
    assert r.status_code == 200, r.text
    [line] = c.get(f"/sales/{sid}/card/split", headers=h).json()["lines"]
    assert line["card"], line  # the same code, uploaded now
