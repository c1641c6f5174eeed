"""What the centre checks at the gateway, as a real one would, against the sandbox: the boxes' trace codes in the
settlement itself (drug_trac_info, 拆零 flagged), insuplc_admdvs in the header of 9001 and 1101, and an answer
with three decimal places read — rounded half up to the fen where it is booked, never taken for a lost answer."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from server.insurance import codec, wire
from server.insurance import messages as m
from server.insurance.errors import CentreRefused
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from tests.insurance.conftest import (
    EMPLOYEE,
    NONLOCAL,
    OPERATOR,
    SALE_TIME,
    TRACED_CODES,
    for_person,
    line,
    purchase,
)

BOX1, BOX2, BOX3 = "81234567890123450001", "81234567890123450002", "81234567890123450003"


def received(sandbox: SandboxAdmin, msgid: str) -> dict:
    (delivery,) = sandbox.deliveries(msgid=msgid)
    return wire.loads(delivery["body"])


def traced_line(sn: int, price_fen: int, qty: int = 1) -> m.DrugDetail:
    """A line of a product the centre lists as traced (the demo catalog's 甲 antibiotic)."""
    return m.DrugDetail(feedetl_sn=str(sn), fee_ocur_time=SALE_TIME, med_list_codg=TRACED_CODES["jia"],
                        medins_list_codg=f"YP{sn:06d}", det_item_fee_sumamt_fen=price_fen * qty, cnt=Decimal(qty),
                        pric_fen=price_fen)


def with_codes(request: m.SettleRequest, *codes: tuple[int, str, str]) -> m.SettleRequest:
    """The request with (feedetl_sn, code, trdn_flag) rows; the unit type follows the flag."""
    return replace(request, drug_trac_info=[
        m.DrugTracInfo(feedetl_sn=str(sn), drug_trac_codg=code, trdn_flag=flag,
                       min_prcunt_type="1" if flag == "1" else "2") for sn, code, flag in codes])


# --- insuplc_admdvs in 9001 and 1101 ----------------------------------------------------------------------------


def test_sign_in_and_person_info_carry_insuplc_admdvs(gateway: HttpGateway, sandbox: SandboxAdmin) -> None:
    """The header's 参保地 is sent where the reference asks for it before any person is known: the store's own region."""
    signed = gateway.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1")
    assert received(sandbox, signed.receipt.msgid)["insuplc_admdvs"] == "440300"
    caller = Caller(OPERATOR.opter, OPERATOR.opter_name, signed.sign_no)
    person = gateway.person_info(caller, m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn))
    assert received(sandbox, person.receipt.msgid)["insuplc_admdvs"] == "440300"
    elsewhere = gateway.person_info(caller, m.PersonQuery.by_card(NONLOCAL.card_no, NONLOCAL.card_sn))
    assert received(sandbox, elsewhere.receipt.msgid)["insuplc_admdvs"] == "440300"  # routed by the local platform
    insured = elsewhere.insurance("310")
    assert insured is not None and insured.insuplc_admdvs == "440100"  # what 2101 then sends


def test_the_centre_refuses_a_sign_in_or_person_info_without_it(gateway: HttpGateway, signed_in: Caller) -> None:
    """The sandbox refuses as a centre would: the header without insuplc_admdvs, or naming a region that is neither
    the store's nor the person's."""
    query = {"data": codec.to_wire(m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn))}
    with pytest.raises(CentreRefused, match="insuplc_admdvs"):
        gateway.call("1101", signed_in, query)  # the bare call sends the caller's, here none
    with pytest.raises(CentreRefused, match="既非本统筹区也非人员参保地"):
        gateway.call("1101", signed_in.with_insuplc("110100"), query)
    with pytest.raises(CentreRefused, match="insuplc_admdvs"):
        gateway.call("9001", OPERATOR, {"signIn": {"opter_no": "cashier1", "mac": "00:1A", "ip": "127.0.0.1"}})
    with pytest.raises(CentreRefused, match="本统筹区"):
        gateway.call("9001", OPERATOR.with_insuplc("440100"),
                     {"signIn": {"opter_no": "cashier1", "mac": "00:1A", "ip": "127.0.0.1"}})


# --- trace codes with the settlement ----------------------------------------------------------------------------


def test_trace_codes_travel_in_the_settlement_with_the_split_flagged(gateway: HttpGateway, signed_in: Caller,
                                                                      sandbox: SandboxAdmin) -> None:
    caller = for_person(signed_in, EMPLOYEE)
    req = with_codes(purchase(EMPLOYEE, [traced_line(1, 1250, 2), traced_line(2, 60, 6), line(3, "yi", 305)]),
                     (1, BOX1, "0"), (1, BOX2, "0"), (2, BOX3, "1"))
    done = gateway.settle(caller, req, gateway.new_msgid())
    sent = received(sandbox, done.receipt.msgid)["input"]
    assert sent["drug_trac_info"] == [
        {"feedetl_sn": "1", "drug_trac_codg": BOX1, "trdn_flag": "0", "min_prcunt_type": "2"},
        {"feedetl_sn": "1", "drug_trac_codg": BOX2, "trdn_flag": "0", "min_prcunt_type": "2"},
        {"feedetl_sn": "2", "drug_trac_codg": BOX3, "trdn_flag": "1", "min_prcunt_type": "1"}]
    assert "drug_trac_info" not in purchase(EMPLOYEE, [line(1, "yi", 305)]).input()  # no codes: no node
    # the opened box sells on, split; the boxes sold whole are gone
    again = with_codes(purchase(EMPLOYEE, [traced_line(1, 60, 6)]), (1, BOX3, "1"))
    assert gateway.settle(caller, again, gateway.new_msgid()).setlinfo.setl_id


@pytest.mark.refuses("CARD-01")
def test_the_centre_refuses_a_traced_drug_without_its_codes_or_with_a_wrong_split_flag(
        gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin) -> None:
    caller = for_person(signed_in, EMPLOYEE)
    two_boxes = purchase(EMPLOYEE, [traced_line(1, 1250, 2)])
    with pytest.raises(CentreRefused, match="追溯码缺失"):  # 无码不结算
        gateway.pre_settle(caller, two_boxes)
    with pytest.raises(CentreRefused, match="每盒一个追溯码"):  # a box short
        gateway.settle(caller, with_codes(two_boxes, (1, BOX1, "0")), gateway.new_msgid())
    six_pieces = purchase(EMPLOYEE, [traced_line(1, 60, 6)])
    with pytest.raises(CentreRefused, match="拆零销售应标记拆零标志1"):  # pieces of a box sent as whole boxes
        gateway.pre_settle(caller, with_codes(six_pieces, (1, BOX1, "0")))
    with pytest.raises(CentreRefused, match="所拆那一盒"):  # a split line with two boxes' codes
        gateway.pre_settle(caller, with_codes(two_boxes, (1, BOX1, "1"), (1, BOX2, "1")))
    with pytest.raises(CentreRefused, match="格式错误"):
        gateway.pre_settle(caller, with_codes(purchase(EMPLOYEE, [traced_line(1, 1250)]), (1, "71234567890123450001", "0")))
    with pytest.raises(CentreRefused, match="拆零标志trdn_flag"):
        gateway.pre_settle(caller, with_codes(purchase(EMPLOYEE, [traced_line(1, 1250)]), (1, BOX1, "2")))
    assert sandbox.settlements() == []

    split = gateway.settle(caller, with_codes(six_pieces, (1, BOX1, "1")), gateway.new_msgid())
    whole = purchase(EMPLOYEE, [traced_line(1, 1250)])
    with pytest.raises(CentreRefused, match="已拆零销售，拆零标志应为1"):  # the opened box sold whole
        gateway.settle(caller, with_codes(whole, (1, BOX1, "0")), gateway.new_msgid())
    first = gateway.settle(caller, with_codes(whole, (1, BOX2, "0")), gateway.new_msgid())
    with pytest.raises(CentreRefused, match="疑似重复销售"):  # the same box twice
        gateway.settle(caller, with_codes(whole, (1, BOX2, "0")), gateway.new_msgid())
    gateway.cancel(caller, m.CancelRequest(setl_id=first.setlinfo.setl_id, mdtrt_id=first.setlinfo.mdtrt_id,
                                           psn_no=EMPLOYEE.psn_no))
    resold = gateway.settle(caller, with_codes(whole, (1, BOX2, "0")), gateway.new_msgid())  # it came back
    active = [r["setl_id"] for r in sandbox.settlements() if r["status"] == "active" and r["refd_setl_flag"] == "0"]
    assert active == [split.setlinfo.setl_id, resold.setlinfo.setl_id]


def test_code_less_stock_is_settled_when_the_centre_has_it_so(gateway: HttpGateway, signed_in: Caller,
                                                               sandbox: SandboxAdmin) -> None:
    """无码库: a product the centre takes off its traced list (the store's old stock) settles without codes."""
    caller = for_person(signed_in, EMPLOYEE)
    req = purchase(EMPLOYEE, [traced_line(1, 1250)])
    with pytest.raises(CentreRefused, match="追溯码缺失"):
        gateway.pre_settle(caller, req)
    sandbox.add_directory({TRACED_CODES["jia"]: "01"}, traced=False)
    assert gateway.pre_settle(caller, req).setlinfo.medfee_sumamt_fen == 1250


# --- three decimal places --------------------------------------------------------------------------------------


def test_an_answer_with_three_places_is_read_and_booked_half_up(gateway: HttpGateway, signed_in: Caller,
                                                                 sandbox: SandboxAdmin) -> None:
    """The centre writes the fund's share to the mill (4.895 of 7.00, the account 2.105): the answer is valid and
    read as such — fund 4.90 half up, the card's part 7.00, the account what is left of it (2.105 alone would
    round to 2.11, and the parts to 7.01 for a 7.00 sale)."""
    sandbox.set_settings(amount_places=3)
    caller = for_person(signed_in, EMPLOYEE)
    done = gateway.settle(caller, purchase(EMPLOYEE, [line(1, "jia", 350, 2)]), gateway.new_msgid())
    raw = done.receipt.output["setlinfo"]
    assert (raw["fund_pay_sumamt"], raw["acct_pay"], raw["medfee_sumamt"]) == (
        Decimal("4.895"), Decimal("2.105"), Decimal("7.000"))
    shares = done.shares()
    assert (shares.medfee_fen, shares.fund_fen, shares.acct_fen, shares.cash_fen, shares.card_fen) == (700, 490, 210, 0, 700)
    assert shares.balc_fen == EMPLOYEE.balance_fen - 210  # 854.295 → 854.30
    assert done.setlinfo.fund_pay_sumamt_fen == 490 and done.setlinfo.acct_pay_fen == 211  # each alone, half up
    (row,) = sandbox.settlements()
    assert (row["fund_fen"], row["acct_fen"], row["status"]) == (490, 210, "active")  # the centre's own books agree


def test_three_places_read_half_up_not_to_even_nor_refused() -> None:
    assert wire.answer_amount_to_fen("0.125") == 13 and wire.answer_amount_to_fen(Decimal("4.894")) == 489
    assert wire.answer_amount_to_fen("-0.125") == -13 and wire.answer_amount_to_fen(None) == 0
    with pytest.raises(wire.WireFormatError):
        wire.amount_to_fen("0.125")  # what the store sends stays strictly two places
    info = codec.from_wire(m.SetlInfo, {"fund_pay_sumamt": "0.125", "acct_pay": 1.005})
    assert (info.fund_pay_sumamt_fen, info.acct_pay_fen) == (13, 101)
