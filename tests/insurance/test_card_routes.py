"""No disguised route onto the card (issue #17: CARD-02, AGR-01, RX-11, CARD-05), walked the way a person at the
counter would try it, on SQLite and PostgreSQL against the sandbox centre: a gift at price 0 inside a card sale; a
non-drug sold under its price in a "bundle"; a sale opened during a suspension, parked and paid by card after the
agreement is back; a suspension recorded late; a proxy purchase without the buyer's document; a card sale without
the signed purchase list; the receipt stub edited behind the service's back."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine, text
from sqlmodel import col, select

from catalog.codes import gtin_check_digit
from server import audit
from server.config import Settings
from server.db.models import PrintJob, SaleInsured
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.stock import batches as stock
from tests.conftest import (
    BARCODE_MASK,
    BARCODE_VITC,
    ROLE_PINS,
    CardShop,
    Clock,
    Shop,
    by_second_admin,
    login,
    make_settings,
    till_login,
)
from tests.insurance import test_card_sale as card
from tests.insurance.conftest import EMPLOYEE
from tests.insurance.test_card_sale import PROXY_CERTNO, identify, sale_with, settle
from tests.server.test_tamper_evidence import _wait_printed
from tests.tamper import behind_the_guard

backend, card_shop = card.backend, card.card_shop  # the card sale's fixtures: both backends, the sandbox centre


def _preview(shop: Shop, sid: str) -> Any:
    return shop["client"].post(f"/sales/{sid}/card/preview", json={}, headers=shop["cashier"])


def _gift_item(engine: Engine, ctx: Ctx, clock: Clock, price_fen: int = 0) -> str:
    """A non-drug handed out with purchases (赠品), in the food zone, with stock; its barcode."""
    barcode = "6905678901" + "23"
    barcode += str(gtin_check_digit(barcode))
    with core_unit(engine) as u:
        item = catalog_service.create_item(u, ctx, {"code": "ZP0001", "name": "赠品润喉糖", "spec": "20g",
                                                    "gsp_class": "food", "price_fen": price_fen}, [barcode], "Z-FOOD")
        stock.add_opening_batch(u, ctx, id_of(item), None, "B-GIFT-1", "LG", clock.today - timedelta(days=30),
                                clock.today + timedelta(days=300), 0, 50)
    return barcode


@pytest.mark.refuses("CARD-02", "CARD-01")
def test_card02_a_gift_at_price_0_inside_a_card_sale_is_refused_the_card(card_shop: CardShop, engine: Engine,
                                                                          ctx: Ctx, clock: Clock) -> None:
    """The rule names this route: a "free" non-drug line rides along with a card-paid drug. The whole sale is
    refused the card (preview and settle alike), the cash payment of the card's share refused on the till's lane,
    and once the gift is off the line the card pays."""
    c, h = card_shop["client"], card_shop["cashier"]
    gift = _gift_item(engine, ctx, clock)
    sid = sale_with(card_shop, (BARCODE_VITC, 2), (gift, 1))
    assert identify(card_shop, sid).status_code == 200
    split = c.get(f"/sales/{sid}/card/split", headers=h).json()
    assert split["self_pay_fen"] == 0  # "costs nothing": the walk-around's whole point
    for attempt in (_preview(card_shop, sid), settle(card_shop, sid, 0)):
        assert attempt.status_code == 422 and attempt.json()["code"] == "CARD-02", attempt.text
        assert "赠品" in attempt.json()["message_zh"]
    # the till's lane: the card's share typed in as an insurance tender is never a payment
    lane = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "insurance", "amount_fen": 700}]}, headers=h)
    assert lane.status_code == 422 and lane.json()["code"] == "CARD-01"
    assert card_shop["sandbox"].settlements() == []
    gift_line = next(ln for ln in split["lines"] if ln["amount_fen"] == 0)
    assert c.delete(f"/sales/{sid}/lines/{gift_line['sale_line_id']}", headers=h).status_code == 200
    due = _preview(card_shop, sid)
    assert due.status_code == 200, due.text
    assert settle(card_shop, sid, due.json()["due_otherwise_fen"]).status_code == 200


@pytest.mark.refuses("CARD-02")
def test_card02_a_discounted_bundle_hiding_a_non_drug_is_refused_the_card(card_shop: CardShop, engine: Engine,
                                                                           ctx: Ctx) -> None:
    """A "bundle": the mask (a device) rung up at a token price while the drug carries the rest, then its price put
    back. Its line is no longer sold at the one price: the card pays nothing of this sale until it is scanned again."""
    c, h, items = card_shop["client"], card_shop["cashier"], card_shop["items"]
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, items["mask"], {"price_fen": 1})
    sid = sale_with(card_shop, (BARCODE_VITC, 2), (BARCODE_MASK, 1))
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, items["mask"], {"price_fen": 990})
    identify(card_shop, sid)
    for attempt in (_preview(card_shop, sid), settle(card_shop, sid, 1)):
        assert attempt.status_code == 422 and attempt.json()["code"] == "CARD-02", attempt.text
        assert attempt.json()["details"]["catalog_price_fen"] == 990
    assert card_shop["sandbox"].settlements() == []
    sale = c.get(f"/sales/{sid}", headers=h).json()
    mask = next(ln for ln in sale["lines"] if ln["unit_price_fen"] == 1)
    c.delete(f"/sales/{sid}/lines/{mask['id']}", headers=h)
    c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_MASK, "qty": 1}, headers=h)  # at its one price
    assert _preview(card_shop, sid).status_code == 200


def _agreement(shop: CardShop, status: str, on: Any, headers: dict[str, str] | None = None) -> Any:
    body = {"status": status, "effective_on": on.isoformat(), "reason": "经办机构决定"}
    return shop["client"].post("/store/agreement-events", json=body,
                               headers=by_second_admin(shop["client"], headers or shop["admin"]))


@pytest.mark.refuses("AGR-01")
def test_agr01_a_sale_opened_during_a_suspension_is_refused_the_card_after_reinstatement(
        card_shop: CardShop, clock: Clock) -> None:
    """Opened and parked while the agreement is suspended, resumed the next day after the agency lifted it: the
    cost was incurred during the suspension, so the card never pays it (cash still does); a sale opened after the
    reinstatement is paid by card."""
    c = card_shop["client"]
    assert _agreement(card_shop, "suspended", clock.today).status_code == 201
    sid = sale_with(card_shop, (BARCODE_VITC, 2))  # cash sales go on during a suspension
    assert identify(card_shop, sid).status_code == 200
    refused_now = _preview(card_shop, sid)
    assert refused_now.status_code == 403 and refused_now.json()["code"] == "AGR-01"
    assert c.post(f"/sales/{sid}/suspend", headers=card_shop["cashier"]).status_code == 200
    with time_machine.travel(clock.now + timedelta(days=1), tick=False):
        next_day = clock.today
        h = till_login(c, "u_cashier", ROLE_PINS["cashier"])  # yesterday's token has expired
        admin = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
        assert c.post("/insurance/sign-in", json={}, headers=h).status_code == 201
        assert _agreement(card_shop, "active", next_day, admin).status_code == 201
        shop = card_shop | {"cashier": h}
        assert c.post(f"/sales/{sid}/resume", headers=h).status_code == 200
        for attempt in (_preview(shop, sid), settle(shop, sid, 0)):
            assert attempt.status_code == 403 and attempt.json()["code"] == "AGR-01", attempt.text
            assert attempt.json()["details"]["sale_opened_on"] == (next_day - timedelta(days=1)).isoformat()
        assert card_shop["sandbox"].settlements() == []
        fresh = sale_with(shop, (BARCODE_VITC, 1))
        identify(shop, fresh)
        assert _preview(shop, fresh).status_code == 200  # the agreement is in force for what is bought now
        cash = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": 700}]}, headers=h)
        assert cash.status_code == 200 and cash.json()["status"] == "completed"


@pytest.mark.refuses("AGR-01")
def test_agr01_a_suspension_recorded_late_refuses_the_card_at_completion(card_shop: CardShop,
                                                                         clock: Clock) -> None:
    """The preview went through; then the agency's suspension, dated before the sale, is recorded: the settle is
    refused before 2102 leaves, and nothing is booked in the centre."""
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    identify(card_shop, sid)
    pre = _preview(card_shop, sid)
    assert pre.status_code == 200, pre.text
    assert _agreement(card_shop, "suspended", clock.today - timedelta(days=1)).status_code == 201
    late = settle(card_shop, sid, pre.json()["due_otherwise_fen"])
    assert late.status_code == 403 and late.json()["code"] == "AGR-01", late.text
    assert card_shop["sandbox"].settlements() == []


@pytest.mark.refuses("RX-11", "SEC-06")
def test_rx11_a_proxy_purchase_needs_the_buyers_name_and_identity_document(card_shop: CardShop,
                                                                           engine: Engine) -> None:
    """A buyer's name with no document, a document with no name, a document whose check character is wrong: each
    refused at identification, nothing recorded; with both, the buyer is on the sale and on the stub, masked."""
    sid = sale_with(card_shop, (BARCODE_VITC, 1))
    for buyer in ({"buyer_name": "路人甲"}, {"buyer_certno": PROXY_CERTNO},
                  {"buyer_name": "路人甲", "buyer_certno": PROXY_CERTNO[:-1] + "3"}):
        r = identify(card_shop, sid, **buyer)
        assert r.status_code == 422 and r.json()["code"] == "RX-11", r.text
    with read_session(engine) as s:
        assert s.exec(select(SaleInsured)).all() == []
    ok = identify(card_shop, sid, buyer_name="路人甲", buyer_certno=PROXY_CERTNO)
    assert ok.status_code == 200 and PROXY_CERTNO not in ok.text
    assert ok.json()["buyer_certno_masked"].endswith(PROXY_CERTNO[-4:])
    pre = _preview(card_shop, sid).json()
    done = settle(card_shop, sid, pre["due_otherwise_fen"])
    assert done.status_code == 200, done.text
    job = _receipt(engine, sid)
    assert job.document["card"]["buyer_name"] == "路人甲" and PROXY_CERTNO not in str(job.document)
    assert job.document["card"]["buyer_id_masked"].endswith(PROXY_CERTNO[-4:])


def _receipt(engine: Engine, sid: str) -> PrintJob:
    with read_session(engine) as s:
        job = s.exec(select(PrintJob).where(PrintJob.ref == sid, PrintJob.kind == "receipt")
                     .order_by(col(PrintJob.id))).first()
    assert job is not None
    _wait_printed(engine, id_of(job))
    with read_session(engine) as s:
        printed = s.get(PrintJob, job.id)
    assert printed is not None
    return printed


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # what a signature pad hands over (the service checks its kind and size)


class TestTheSignedPurchaseList:
    """A store that records the insured person's signature on the purchase list (`card_signature_required`)."""

    @pytest.fixture
    def settings(self, db_url: str, sandbox_url: str) -> Settings:
        return make_settings(db_url, insurance={"url": sandbox_url, "timeout_seconds": 2},
                             rules={"card_signature_required": True})

    @pytest.fixture
    def signed_sale(self, card_shop: CardShop) -> Iterator[tuple[str, dict[str, Any]]]:
        sid = sale_with(card_shop, (BARCODE_VITC, 2), (BARCODE_MASK, 1))
        assert identify(card_shop, sid).status_code == 200
        yield sid, _preview(card_shop, sid).json()

    @pytest.mark.refuses("CARD-05")
    def test_card05_a_card_sale_without_the_signature_is_refused(self, card_shop: CardShop, engine: Engine,
                                                                 signed_sale: tuple[str, dict[str, Any]]) -> None:
        """Unsigned: refused before 2102. Signed, then a line added: the list signed is not the list paid — refused.
        Signed again: settled, and the sale says who recorded it, when and how."""
        c, h = card_shop["client"], card_shop["cashier"]
        sid, pre = signed_sale
        unsigned = settle(card_shop, sid, pre["due_otherwise_fen"])
        assert unsigned.status_code == 422 and unsigned.json()["code"] == "CARD-05", unsigned.text
        key = c.post(f"/sales/{sid}/card/signature", json={"how": "key"}, headers=h)
        assert key.status_code == 200 and key.json()["signed_how"] == "key"
        c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_VITC, "qty": 1}, headers=h)
        changed = settle(card_shop, sid, pre["due_otherwise_fen"])
        assert changed.status_code == 422 and changed.json()["code"] == "CARD-05"
        assert "重新签字" in changed.json()["message_zh"]
        assert card_shop["sandbox"].settlements() == []
        bad_pad = c.post(f"/sales/{sid}/card/signature", json={"how": "pad",
                                                               "image_b64": base64.b64encode(b"scribble").decode()},
                         headers=h)
        assert bad_pad.status_code == 422 and bad_pad.json()["code"] == "CARD-05"
        for junk in ("签名", "iVBOR w0KGgo=", "abc"):  # not base64 at all; a space inside; bad padding
            not_b64 = c.post(f"/sales/{sid}/card/signature", json={"how": "pad", "image_b64": junk}, headers=h)
            assert not_b64.status_code == 422 and "image_b64" in not_b64.json()["message_en"], (junk, not_b64.text)
        pad = c.post(f"/sales/{sid}/card/signature", json={"how": "pad", "image_b64": base64.b64encode(PNG).decode()},
                     headers=h)
        assert pad.status_code == 200, pad.text
        due = _preview(card_shop, sid).json()["due_otherwise_fen"]
        done = settle(card_shop, sid, due)
        assert done.status_code == 200, done.text
        with read_session(engine) as s:
            insured = s.exec(select(SaleInsured).where(SaleInsured.sale_id == sid)).one()
        assert insured.signed_how == "pad" and insured.signature_image == PNG and insured.signed_by is not None
        assert insured.signed_at is not None and insured.signed_lines

    @pytest.mark.refuses("CARD-05", "RX-08", "ST-02")
    def test_card05_the_stub_and_the_signature_edited_behind_the_service_are_named(
            self, card_shop: CardShop, engine: Engine, ctx: Ctx,
            signed_sale: tuple[str, dict[str, Any]]) -> None:
        """The receipt stub keeps the signature as recorded; verify passes a day's card sale, then names the stub
        rewritten, the signature's record changed and the pad's image swapped."""
        c, h = card_shop["client"], card_shop["cashier"]
        sid, pre = signed_sale
        c.post(f"/sales/{sid}/card/signature", json={"how": "pad", "image_b64": base64.b64encode(PNG).decode()},
               headers=h)
        assert settle(card_shop, sid, pre["due_otherwise_fen"]).status_code == 200
        job = _receipt(engine, sid)
        assert job.document["card"]["signed"].startswith("已签字（签名板）")
        with read_session(engine) as s:
            assert audit.verify(s, ctx.store_id).ok
        unsigned_doc = job.document | {"card": job.document["card"] | {"signed": ""}}
        with behind_the_guard(engine, "print_job", "sale_insured") as conn:
            conn.execute(text("UPDATE print_job SET document = :d WHERE id = :i"),
                         {"d": _json(unsigned_doc), "i": job.id})
            conn.execute(text("UPDATE sale_insured SET signed_how = 'key', signature_image = :img WHERE sale_id = :s"),
                         {"img": PNG + b"forged", "s": sid})
        with read_session(engine) as s:
            report = audit.verify(s, ctx.store_id)
        named = {(p["kind"], p.get("table"), tuple(p.get("columns", ()))) for p in report.problems}
        assert ("altered_row", "print_job", ("document",)) in named  # the stub (RX-08, CARD-05)
        assert ("altered_row", "sale_insured", ("signed_how",)) in named  # how it was signed
        assert ("altered_row", "sale_insured", ("signature_image",)) in named  # the pad's image


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, ensure_ascii=False)


def test_a_sale_identified_again_is_signed_again(card_shop: CardShop) -> None:
    """A new identification replaces the snapshot and its signature: the new person signs their own list."""
    c, h = card_shop["client"], card_shop["cashier"]
    sid = sale_with(card_shop, (BARCODE_VITC, 1))
    identify(card_shop, sid)
    assert c.post(f"/sales/{sid}/card/signature", json={"how": "key"}, headers=h).json()["signed_how"] == "key"
    again = identify(card_shop, sid, buyer_name="路人甲", buyer_certno=PROXY_CERTNO)
    assert again.status_code == 200 and again.json()["signed_how"] == "" and EMPLOYEE.certno not in again.text
