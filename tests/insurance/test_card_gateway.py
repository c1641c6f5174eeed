"""A card sale through the service's API, at the gateway (#17, CARD-01): the boxes' trace codes reach the centre
with the settlement, 拆零 flagged, and a centre that wants them refuses a sale without; a centre's answer whose
total is not the sale's is refused at the preview with nothing booked, and taken back at the settlement; an
answer with three decimal places is booked half up to the fen, kept as received, and not reversed; a settlement
taken back on its own is told to the cashier in plain words. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from server.audit import verify
from server.db.models import CardSettlement, MessageDirection
from server.db.uow import core_unit, read_session
from server.insurance import wire
from server.insurance.msglog import messages_for
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from tests.conftest import BACKENDS, BARCODE_AMOX, BARCODE_VITC, CardShop, Shop, pharmacist_on_duty
from tests.insurance import test_card_sale
from tests.insurance.conftest import CODES, EMPLOYEE
from tests.insurance.test_card_sale import active_in_centre, identify, sale_with, settle

card_shop = test_card_sale.card_shop  # the fixture: the shop ready for the card, the cashier signed in

BOX1, BOX2, OPENED = "81234567890123450011", "81234567890123450012", "81234567890123450013"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def traced(engine: Engine, ctx: Ctx, item_id: int) -> None:
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, item_id, {"traced": True})


def trace(shop: Shop, sid: str, line_id: int, code: str) -> None:
    r = shop["client"].post(f"/sales/{sid}/lines/{line_id}/trace-codes", json={"code": code}, headers=shop["cashier"])
    assert r.status_code == 201, r.text


def split_waipei(shop: Shop, sid: str, capsules: int) -> None:
    """The insured person's own 外配处方 for 阿莫西林 sold split (拆零), approved and tied to the sale."""
    c = shop["client"]
    r = c.put("/institutions", json={"institutions": [{"code": "H44030000001", "name": "示范医院",
                                                       "doctors": [{"code": "D001", "name": "李医生"}]}]},
              headers=shop["manager"])
    assert r.status_code == 200, r.text
    rx = c.post("/prescriptions", json={
        "rx_no": f"RX-{uuid.uuid4().hex[:8]}", "institution_code": "H44030000001", "institution_name": "示范医院",
        "doctor_name": "李医生", "doctor_code": "D001", "issued_on": shop["clock"].today.isoformat(),
        "patient_name": EMPLOYEE.name, "patient_sex": "男", "patient_age": 50, "patient_certno": EMPLOYEE.certno,
        "diagnosis": "急性支气管炎", "for_insurance": True, "doctor_signed": True, "institution_sealed": True,
        "lines": [{"item_id": shop["items"]["amox"], "qty": capsules, "split": True, "days": 2, "dosage": "0.5g",
                   "frequency": "tid", "route": "口服", "dosage_form": "胶囊", "drug_name": "阿莫西林胶囊"}]},
        headers=shop["cashier"])
    assert rx.status_code == 201, rx.text
    pharmacist_on_duty(shop)
    assert c.post(f"/prescriptions/{rx.json()['id']}/review", json={"verdict": "approved"},
                  headers=shop["pharmacist"]).status_code == 200
    assert c.post(f"/sales/{sid}/prescription", json={"prescription_id": rx.json()["id"]},
                  headers=shop["cashier"]).status_code == 200


def sent(shop: CardShop, infno: str) -> list[dict[str, Any]]:
    """The inputs of every `infno` the centre received, in order."""
    return [wire.loads(d["body"])["input"] for d in shop["sandbox"].deliveries(infno=infno)]


@pytest.mark.refuses("CARD-01")
def test_the_boxes_trace_codes_reach_the_centre_in_the_settlement(card_shop: CardShop, engine: Engine,
                                                                   ctx: Ctx) -> None:
    c, h, sandbox = card_shop["client"], card_shop["cashier"], card_shop["sandbox"]
    sandbox.add_directory({CODES["jia"]: "01", CODES["yi"]: "02"}, traced=True)  # the centre wants their codes
    traced(engine, ctx, card_shop["items"]["vitc"])
    traced(engine, ctx, card_shop["items"]["amox"])
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    split = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_AMOX, "qty": 6, "split": True}, headers=h)
    assert split.status_code == 201, split.text
    vitc, amox = (ln["id"] for ln in split.json()["lines"])
    split_waipei(card_shop, sid, 6)
    assert identify(card_shop, sid).status_code == 200

    # not yet scanned: the centre refuses the preview (无码不结算), and the store refuses to settle
    early = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert early.status_code == 422 and early.json()["code"] == "INS-REFUSED", early.text
    assert "追溯码缺失" in early.json()["message_zh"]
    trace(card_shop, sid, vitc, BOX1)
    short = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)  # one box of two
    assert short.status_code == 422 and "每盒一个追溯码" in short.json()["message_zh"], short.text
    trace(card_shop, sid, vitc, BOX2)
    trace(card_shop, sid, amox, OPENED)  # the opened box's code, for six capsules of it

    pre = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert pre.status_code == 200, pre.text
    done = settle(card_shop, sid, pre.json()["due_otherwise_fen"])
    assert done.status_code == 200, done.text
    whole = {"trdn_flag": "0", "min_prcunt_type": "2"}
    expected = [{"feedetl_sn": str(vitc), "drug_trac_codg": BOX1} | whole,
                {"feedetl_sn": str(vitc), "drug_trac_codg": BOX2} | whole,
                {"feedetl_sn": str(amox), "drug_trac_codg": OPENED, "trdn_flag": "1", "min_prcunt_type": "1"}]
    assert sent(card_shop, "2101")[-1]["drug_trac_info"] == expected
    (settled,) = sent(card_shop, "2102")
    assert settled["drug_trac_info"] == expected  # with the settlement itself, not only later in 3505
    assert len(active_in_centre(card_shop)) == 1
    with read_session(engine) as s:
        row = s.exec(select(CardSettlement).where(CardSettlement.sale_id == sid)).one()
        assert {ln["feedetl_sn"]: (ln.get("trace_codes"), ln.get("trdn_flag")) for ln in row.lines} == {
            str(vitc): ([BOX1, BOX2], "0"), str(amox): ([OPENED], "1")}  # what was sent, on the intent
        assert verify(s, ctx.store_id).ok


@pytest.mark.refuses("CARD-01")
def test_a_drug_the_centre_traces_is_refused_when_the_store_sends_no_codes(card_shop: CardShop) -> None:
    """The walk-around: the store's item not marked as traced, so nothing asks for its codes at the till. The centre
    still wants them: the preview and the settlement are refused, nothing is booked, the sale stays open."""
    c, h, sandbox = card_shop["client"], card_shop["cashier"], card_shop["sandbox"]
    sandbox.add_directory({CODES["jia"]: "01"}, traced=True)
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    identify(card_shop, sid)
    pre = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert pre.status_code == 422 and "追溯码缺失" in pre.json()["message_zh"], pre.text
    done = settle(card_shop, sid, 0)
    assert done.status_code == 422 and done.json()["code"] == "INS-REFUSED", done.text
    assert sent(card_shop, "2102")[0].get("drug_trac_info") is None
    assert active_in_centre(card_shop) == [] and sandbox.reversals() == []
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open"


@pytest.mark.refuses("CARD-01")
def test_an_answer_whose_total_is_not_the_sale_s_is_refused_at_the_preview_and_taken_back_at_settlement(
        card_shop: CardShop, engine: Engine, ctx: Ctx) -> None:
    c, h, sandbox = card_shop["client"], card_shop["cashier"], card_shop["sandbox"]
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    identify(card_shop, sid)
    sandbox.inject("misstate", "2101", offset_fen=100)  # the centre's 2101 says 8.00 for a 7.00 sale
    wrong = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert wrong.status_code == 422 and wrong.json()["code"] == "CARD-01", wrong.text
    assert "8.00" in wrong.json()["message_zh"] and "7.00" in wrong.json()["message_zh"]
    assert sandbox.settlements() == [] and sent(card_shop, "2102") == []  # nothing booked, nothing settled
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open"

    due = c.post(f"/sales/{sid}/card/preview", json={}, headers=h).json()["due_otherwise_fen"]
    sandbox.inject("misstate", "2102", offset_fen=-1)  # booked by the centre, answered a fen short
    taken = settle(card_shop, sid, due)
    assert taken.status_code == 422 and taken.json()["code"] == "SETTLE-REVERSED", taken.text
    assert taken.json()["details"]["cause"]["code"] == "CARD-01"
    assert "医保卡没有扣款" in taken.json()["message_zh"] and "6.99" in taken.json()["message_zh"]
    assert active_in_centre(card_shop) == [] and len(sandbox.reversals()) == 1  # 2601: taken back
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open"
    again = settle(card_shop, sid, due)
    assert again.status_code == 200, again.text
    assert len(active_in_centre(card_shop)) == 1
    with read_session(engine) as s:
        assert [r.status for r in s.exec(select(CardSettlement).order_by(col(CardSettlement.id)))] == ["reversed", "settled"]
        assert verify(s, ctx.store_id).ok


def test_an_answer_with_three_decimals_is_booked_half_up_kept_as_received_and_not_reversed(
        card_shop: CardShop, engine: Engine, ctx: Ctx) -> None:
    c, h, sandbox = card_shop["client"], card_shop["cashier"], card_shop["sandbox"]
    sandbox.set_settings(amount_places=3)  # fund 4.895, account 2.105 of a 7.000 sale (职工: 70 % of 甲)
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    identify(card_shop, sid)
    pre = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert pre.status_code == 200, pre.text
    p = pre.json()
    assert (p["fund_pay_fen"], p["acct_pay_fen"], p["cash_pay_fen"], p["due_otherwise_fen"]) == (490, 210, 0, 0)
    assert p["balc_after_fen"] == EMPLOYEE.balance_fen - 210
    done = settle(card_shop, sid, p["due_otherwise_fen"])
    assert done.status_code == 200, done.text  # not an unreadable answer: no reversal
    assert {t["kind"]: t["amount_fen"] for t in done.json()["tenders"]} == {"insurance": 700}
    assert sandbox.reversals() == [] and len(active_in_centre(card_shop)) == 1
    with read_session(engine) as s:
        row = s.exec(select(CardSettlement).where(CardSettlement.sale_id == sid)).one()
        assert (row.status, row.fund_pay_fen, row.acct_pay_fen, row.cash_pay_fen) == ("settled", 490, 210, 0)
        assert row.balc_fen == EMPLOYEE.balance_fen - 210
        assert row.answer is not None and (row.answer["fund_pay_sumamt"], row.answer["acct_pay"]) == ("4.895", "2.105")
        (answer,) = [x for x in messages_for(s, ctx.store_id, row.msgid) if x.direction == MessageDirection.IN.value]
        assert answer.outcome == "ok" and '"fund_pay_sumamt":4.895' in answer.body  # the message log: as received
        assert verify(s, ctx.store_id).ok


def test_a_cancellation_reversed_on_its_own_says_the_settlement_stands(card_shop: CardShop) -> None:
    """2103 sent, its answer lost, taken back at once by 2601: the pharmacist is told plainly that nothing went back
    to the card and no return was made — and the return can be made again."""
    c, ph, sandbox = card_shop["client"], card_shop["pharmacist"], card_shop["sandbox"]
    sid = sale_with(card_shop, (BARCODE_VITC, 2))
    identify(card_shop, sid)
    due = c.post(f"/sales/{sid}/card/preview", json={}, headers=card_shop["cashier"]).json()["due_otherwise_fen"]
    assert settle(card_shop, sid, due).status_code == 200
    c.post("/insurance/sign-in", json={}, headers=ph)
    sandbox.inject("drop", "2103")
    body = {"return_id": str(uuid.uuid4()), "reason": "患者退药"}
    lost = c.post(f"/sales/{sid}/card/cancel", json=body, headers=ph)
    assert lost.status_code == 424 and lost.json()["code"] == "CANCEL-REVERSED", lost.text
    assert "原医保结算仍然有效" in lost.json()["message_zh"] and "没有退回医保卡" in lost.json()["message_zh"]
    assert len(active_in_centre(card_shop)) == 1 and c.get(f"/sales/{sid}", headers=ph).json()["status"] == "completed"
    again = c.post(f"/sales/{sid}/card/cancel", json=body, headers=ph)
    assert again.status_code == 201, again.text
    assert active_in_centre(card_shop) == []
