"""The HTTP adapter against the real sandbox centre: envelope, each transaction's happy path and
refusals, and the sandbox's own ledger agreeing with what the adapter was told."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest

from server.insurance import messages as m
from server.insurance import wire
from server.insurance.errors import CentreRefused
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from tests.conftest import Clock
from tests.insurance.conftest import (
    ELDER,
    EMPLOYEE,
    NONLOCAL,
    OPERATOR,
    RESIDENT,
    RETIREE,
    SUSPENDED,
    for_person,
    line,
    purchase,
)

ENVELOPE_KEYS = ["infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info",
                 "cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code",
                 "fixmedins_name", "sign_no", "input"]


def received(sandbox: SandboxAdmin, msgid: str) -> dict:
    (delivery,) = sandbox.deliveries(msgid=msgid)
    return wire.loads(delivery["body"])


def test_the_envelope_is_the_spec_s_field_for_field(gateway: HttpGateway, signed_in: Caller,
                                                     sandbox: SandboxAdmin) -> None:
    person = gateway.person_info(signed_in, m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn))
    sent = received(sandbox, person.receipt.msgid)
    assert list(sent) == ENVELOPE_KEYS
    assert sent["infno"] == "1101"
    assert re.fullmatch(r"P44030000001\d{14}\d{4}", sent["msgid"]), sent["msgid"]
    assert sent["msgid"][12:26] <= sent["inf_time"].replace("-", "").replace(" ", "").replace(":", "")
    assert sent["fixmedins_code"] == "P44030000001" and sent["fixmedins_name"] == "丁点大药房（示范店）"
    assert sent["mdtrtarea_admvs"] == "440300" and sent["infver"] == "V1.0" and sent["recer_sys_code"] == "sys01"
    assert (sent["opter"], sent["opter_name"], sent["opter_type"]) == ("cashier1", "王收银", "1")
    assert sent["sign_no"] == signed_in.sign_no
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", sent["inf_time"])
    assert sent["input"] == {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": EMPLOYEE.card_no,
                                      "card_sn": EMPLOYEE.card_sn, "begntime": "", "psn_cert_type": "",
                                      "certno": "", "psn_name": ""}}
    # the answer's envelope is kept on the receipt
    assert len(person.receipt.inf_refmsgid) == 30


def test_amounts_travel_as_two_place_decimals(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin) -> None:
    req = purchase(EMPLOYEE, [line(1, "jia", 1250, 2), line(2, "yi", 305)])
    pre = gateway.pre_settle(for_person(signed_in, EMPLOYEE), req)
    raw = sandbox.deliveries(msgid=pre.receipt.msgid)[0]["body"]
    assert '"medfee_sumamt":28.05' in raw and '"det_item_fee_sumamt":25.00' in raw and '"pric":12.50' in raw
    sent = received(sandbox, pre.receipt.msgid)
    assert sent["input"]["druginfo"]["medfee_sumamt"] == wire.to_decimal("28.05")
    assert pre.setlinfo.medfee_sumamt_fen == 2805


@pytest.mark.business_day
def test_sign_in_and_out(gateway: HttpGateway, sandbox: SandboxAdmin, clock: Clock) -> None:
    result = gateway.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "10.0.0.8")
    assert len(result.sign_no) == 30 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", result.sign_time)
    # the sign-in is of the store's business day, on both sides; the msgid's stamp is the store's wall clock
    assert result.sign_time[:10] == sandbox.sign_ins()[0]["sign_date"] == clock.today.isoformat()
    assert result.receipt.msgid[12:20] == f"{clock.today:%Y%m%d}"
    sent = received(sandbox, result.receipt.msgid)
    assert sent["sign_no"] == "" and sent["input"] == {"signIn": {"opter_no": "cashier1", "mac": "00:1A:2B:3C:4D:5E",
                                                                  "ip": "10.0.0.8"}}
    caller = Caller(OPERATOR.opter, OPERATOR.opter_name, result.sign_no)
    out = gateway.sign_out(caller)
    assert out.sign_time
    assert received(sandbox, out.receipt.msgid)["input"] == {"signOut": {"sign_no": result.sign_no,
                                                                         "opter_no": "cashier1"}}
    with pytest.raises(CentreRefused, match="已签退"):
        gateway.person_info(caller, m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn))


def test_no_transaction_without_a_sign_in(gateway: HttpGateway, sandbox: SandboxAdmin) -> None:
    """签到之后才能调用其他交易 (reference §1.4): the sandbox refuses settlement without a sign_no."""
    with pytest.raises(CentreRefused, match="请先签到") as refused:
        gateway.pre_settle(for_person(OPERATOR, EMPLOYEE), purchase(EMPLOYEE, [line(1, "jia", 1000)]))
    assert refused.value.infcode == -1 and not refused.value.uncertain
    with pytest.raises(CentreRefused, match="签到编号无效"):
        gateway.settle(for_person(Caller("cashier1", "王收银", "440300202601010000000000009999"), EMPLOYEE),
                       purchase(EMPLOYEE, [line(1, "jia", 1000)]), gateway.new_msgid())
    assert sandbox.settlements() == []


def test_another_operator_cannot_use_my_sign_in(gateway: HttpGateway, signed_in: Caller) -> None:
    intruder = Caller("pharm1", "李药师", signed_in.sign_no)
    with pytest.raises(CentreRefused, match="经办人与签到人不符"):
        gateway.person_info(intruder, m.PersonQuery.by_ec_token(EMPLOYEE.ec_token))


@pytest.mark.parametrize("query", [
    m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn),
    m.PersonQuery.by_card(f"{EMPLOYEE.card_no}|BUSINESSINFO", EMPLOYEE.card_sn),
    m.PersonQuery.by_ec_token(EMPLOYEE.ec_token),
    m.PersonQuery.by_id_number(EMPLOYEE.certno, EMPLOYEE.name),
], ids=["card", "card-with-business-string", "e-voucher", "id-number"])
def test_person_info_by_each_credential(gateway: HttpGateway, signed_in: Caller, query: m.PersonQuery) -> None:
    person = gateway.person_info(signed_in, query)
    assert person.baseinfo.psn_no == EMPLOYEE.psn_no and person.baseinfo.certno == EMPLOYEE.certno
    assert person.baseinfo.psn_name == EMPLOYEE.name and person.baseinfo.age > 40
    assert [r.insutype for r in person.insuinfo] == ["310", "330"]
    main = person.insurance("310")
    assert main is not None and main.balc_fen == EMPLOYEE.balance_fen and main.insuplc_admdvs == "440300"


def test_person_info_refusals(gateway: HttpGateway, signed_in: Caller) -> None:
    with pytest.raises(CentreRefused, match="卡识别码"):
        gateway.person_info(signed_in, m.PersonQuery.by_card(EMPLOYEE.card_no, RETIREE.card_sn))
    with pytest.raises(CentreRefused, match="card_sn"):
        gateway.person_info(signed_in, m.PersonQuery.by_card(EMPLOYEE.card_no, ""))
    with pytest.raises(CentreRefused, match="未查询到"):
        gateway.person_info(signed_in, m.PersonQuery.by_ec_token("EC-no-such-token"))
    with pytest.raises(CentreRefused, match="证件号码"):
        gateway.person_info(signed_in, m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn,
                                                             certno=RETIREE.certno))


def test_pre_settle_shows_the_split_and_books_nothing(gateway: HttpGateway, signed_in: Caller,
                                                      sandbox: SandboxAdmin) -> None:
    # 甲 20.00 + 乙 10.00 (10 % self-pay first) + 丙 5.00 + off-list 3.00; 职工: fund 70 %, no deductible
    req = purchase(EMPLOYEE, [line(1, "jia", 2000), line(2, "yi", 1000), line(3, "bing", 500), line(4, "none", 300)])
    pre = gateway.pre_settle(for_person(signed_in, EMPLOYEE), req)
    s = pre.setlinfo
    assert s.medfee_sumamt_fen == 3800
    assert (s.fulamt_ownpay_amt_fen, s.preselfpay_amt_fen, s.inscp_scp_amt_fen) == (800, 100, 2900)
    assert s.hifp_pay_fen == s.fund_pay_sumamt_fen == 2030  # 70 % of 29.00
    assert s.psn_part_amt_fen == 1770
    assert s.acct_pay_fen == 970 and s.psn_cash_pay_fen == 800  # the account pays the in-scope self part only
    assert s.balc_fen == EMPLOYEE.balance_fen - 970
    assert [c.category.value for c in pre.detlcutinfo] == ["jia", "yi", "bing", "none"]
    assert [c.chrgitm_lv for c in pre.detlcutinfo] == ["01", "02", "03", ""]
    assert pre.setldetail[0].fund_pay_type == "310100" and pre.setldetail[0].fund_payamt_fen == 2030
    assert sandbox.settlements() == [] and sandbox.person(EMPLOYEE.psn_no)["balc_fen"] == EMPLOYEE.balance_fen


def test_resident_split_with_deductible_and_no_account(gateway: HttpGateway, signed_in: Caller) -> None:
    # 居民: deductible 50.00 a year, then 50 %; no personal account (balance 0), so the rest is cash
    req = purchase(RESIDENT, [line(1, "jia", 8000), line(2, "yi", 2000)])
    s = gateway.pre_settle(for_person(signed_in, RESIDENT), req).setlinfo
    assert (s.medfee_sumamt_fen, s.preselfpay_amt_fen, s.inscp_scp_amt_fen, s.act_pay_dedc_fen) == (10000, 200, 9800, 5000)
    assert s.hifp_pay_fen == 2400 and s.fund_pay_sumamt_fen == 2400
    assert (s.psn_part_amt_fen, s.acct_pay_fen, s.psn_cash_pay_fen) == (7600, 0, 7600)
    assert s.setl_id == ""  # a pre-settlement books nothing


def test_settle_books_once_and_cancel_gives_it_back(gateway: HttpGateway, signed_in: Caller,
                                                   sandbox: SandboxAdmin) -> None:
    caller = for_person(signed_in, EMPLOYEE)
    req = purchase(EMPLOYEE, [line(1, "jia", 2000), line(2, "yi", 1000, 2)])
    msgid = gateway.new_msgid()
    done = gateway.settle(caller, req, msgid)
    s = done.setlinfo
    assert s.setl_id and s.mdtrt_id and s.medins_setl_id == msgid and done.receipt.msgid == msgid
    assert s.medfee_sumamt_fen == s.fund_pay_sumamt_fen + s.psn_part_amt_fen == 4000
    assert s.psn_part_amt_fen == s.acct_pay_fen + s.psn_cash_pay_fen
    (row,) = sandbox.settlements()
    assert (row["setl_id"], row["msgid"], row["status"], row["medfee_fen"], row["acct_fen"]) == (
        s.setl_id, msgid, "active", 4000, s.acct_pay_fen)
    assert sandbox.person(EMPLOYEE.psn_no)["balc_fen"] == EMPLOYEE.balance_fen - s.acct_pay_fen == s.balc_fen

    again = gateway.settle(caller, req, msgid)  # the same msgid: answered again, not settled again
    assert again.setlinfo.setl_id == s.setl_id and len(sandbox.settlements()) == 1
    with pytest.raises(CentreRefused, match="报文ID重复"):
        gateway.settle(caller, purchase(EMPLOYEE, [line(1, "jia", 999)]), msgid)

    cancel = gateway.cancel(caller, m.CancelRequest(setl_id=s.setl_id, mdtrt_id=s.mdtrt_id, psn_no=EMPLOYEE.psn_no))
    c = cancel.setlinfo
    assert c.medfee_sumamt_fen == -4000 and c.acct_pay_fen == -s.acct_pay_fen  # live centres send cancels negative
    assert c.person_part_fen == -s.psn_part_amt_fen and c.cash_fen == -s.psn_cash_pay_fen  # 2103's names
    assert c.balc_fen == EMPLOYEE.balance_fen == sandbox.person(EMPLOYEE.psn_no)["balc_fen"]
    assert [r["status"] for r in sandbox.settlements()] == ["cancelled", "active"]
    with pytest.raises(CentreRefused, match="已撤销"):
        gateway.cancel(caller, m.CancelRequest(setl_id=s.setl_id, mdtrt_id=s.mdtrt_id, psn_no=EMPLOYEE.psn_no))


def test_settlement_refusals(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin) -> None:
    ok = purchase(EMPLOYEE, [line(1, "jia", 1000)])
    with pytest.raises(CentreRefused, match="insuplc_admdvs"):
        gateway.settle(signed_in.with_insuplc("110000"), ok, gateway.new_msgid())
    with pytest.raises(CentreRefused, match="暂停参保"):
        gateway.pre_settle(for_person(signed_in, SUSPENDED), purchase(SUSPENDED, [line(1, "jia", 1000)]))
    wrong_total = m.SettleRequest(druginfo=m.DrugInfo(**{**ok.druginfo.__dict__, "medfee_sumamt_fen": 1001}),
                                  drugdetail=ok.drugdetail)
    with pytest.raises(CentreRefused, match="明细合计"):
        gateway.pre_settle(for_person(signed_in, EMPLOYEE), wrong_total)
    someone_else = m.SettleRequest(druginfo=m.DrugInfo(**{**ok.druginfo.__dict__, "mdtrt_cert_no": RETIREE.card_no,
                                                         "card_sn": RETIREE.card_sn}), drugdetail=ok.drugdetail)
    with pytest.raises(CentreRefused, match="凭证与人员编号不符"):
        gateway.pre_settle(for_person(signed_in, EMPLOYEE), someone_else)
    bad_line = m.SettleRequest(druginfo=ok.druginfo, drugdetail=[m.DrugDetail(**{**ok.drugdetail[0].__dict__,
                                                                                 "pric_fen": 900})])
    with pytest.raises(CentreRefused, match="数量×单价"):
        gateway.pre_settle(for_person(signed_in, EMPLOYEE), bad_line)
    with pytest.raises(CentreRefused, match="drugdetail"):
        gateway.pre_settle(for_person(signed_in, EMPLOYEE), m.SettleRequest(druginfo=ok.druginfo, drugdetail=[]))
    assert sandbox.settlements() == []


def test_account_use_follows_the_flag_and_the_balance(gateway: HttpGateway, signed_in: Caller) -> None:
    no_acct = gateway.pre_settle(for_person(signed_in, EMPLOYEE),
                                 purchase(EMPLOYEE, [line(1, "jia", 5000)], acct_used=False)).setlinfo
    assert no_acct.acct_pay_fen == 0 and no_acct.psn_cash_pay_fen == 1500
    # 李秀英 has 35.20 left: the account pays what it can, cash the rest
    low = gateway.pre_settle(for_person(signed_in, RETIREE), purchase(RETIREE, [line(1, "jia", 20000)])).setlinfo
    assert (low.psn_part_amt_fen, low.acct_pay_fen, low.psn_cash_pay_fen, low.balc_fen) == (6000, 3520, 2480, 0)


def test_a_person_insured_elsewhere_settles_with_their_region(gateway: HttpGateway, signed_in: Caller,
                                                              sandbox: SandboxAdmin) -> None:
    done = gateway.settle(for_person(signed_in, NONLOCAL), purchase(NONLOCAL, [line(1, "jia", 1000)], cert="ec"),
                          gateway.new_msgid())
    assert received(sandbox, done.receipt.msgid)["insuplc_admdvs"] == "440100"
    assert done.setlinfo.clr_optins == "440100"


def test_reversal_of_a_settlement_and_of_a_cancellation(gateway: HttpGateway, signed_in: Caller,
                                                        sandbox: SandboxAdmin) -> None:
    caller = for_person(signed_in, EMPLOYEE)
    first = gateway.settle(caller, purchase(EMPLOYEE, [line(1, "jia", 3000)]), gateway.new_msgid())
    spent = first.setlinfo.acct_pay_fen
    gateway.reverse(caller, m.ReversalRequest(psn_no=EMPLOYEE.psn_no, omsgid=first.receipt.msgid, oinfno="2102"))
    assert sandbox.settlements()[0]["status"] == "reversed"
    assert sandbox.person(EMPLOYEE.psn_no)["balc_fen"] == EMPLOYEE.balance_fen
    again = gateway.reverse(caller, m.ReversalRequest(psn_no=EMPLOYEE.psn_no, omsgid=first.receipt.msgid,
                                                      oinfno="2102"))
    assert "已冲正" in again.receipt.warn_msg  # reversing twice changes nothing

    second = gateway.settle(caller, purchase(EMPLOYEE, [line(1, "jia", 3000)]), gateway.new_msgid()).setlinfo
    cancel = gateway.cancel(caller, m.CancelRequest(setl_id=second.setl_id, mdtrt_id=second.mdtrt_id,
                                                    psn_no=EMPLOYEE.psn_no))
    gateway.reverse(caller, m.ReversalRequest(psn_no=EMPLOYEE.psn_no, omsgid=cancel.receipt.msgid, oinfno="2103"))
    rows = {r["setl_id"]: r for r in sandbox.settlements()}
    assert rows[second.setl_id]["status"] == "active"  # the cancellation undone: the settlement stands again
    assert sandbox.person(EMPLOYEE.psn_no)["balc_fen"] == EMPLOYEE.balance_fen - spent

    with pytest.raises(CentreRefused, match="不支持冲正"):
        gateway.reverse(caller, m.ReversalRequest(psn_no=EMPLOYEE.psn_no, omsgid=first.receipt.msgid, oinfno="2101"))


def test_a_reversed_msgid_arriving_late_is_refused(gateway: HttpGateway, signed_in: Caller,
                                                   sandbox: SandboxAdmin) -> None:
    """The answer was lost and the original never reached the centre: 2601 first, the original later."""
    caller = for_person(signed_in, EMPLOYEE)
    msgid = gateway.new_msgid()
    rev = gateway.reverse(caller, m.ReversalRequest(psn_no=EMPLOYEE.psn_no, omsgid=msgid, oinfno="2102"))
    assert "原交易不存在" in rev.receipt.warn_msg
    with pytest.raises(CentreRefused, match="已冲正"):
        gateway.settle(caller, purchase(EMPLOYEE, [line(1, "jia", 3000)]), msgid)
    assert sandbox.settlements() == []


def _recon(gateway: HttpGateway, caller: Caller, day: date, medfee: int, fund: int, acct: int, cnt: int,
           refd: str = "") -> m.Reconciliation:
    return gateway.reconcile(caller, m.ReconRequest(insutype="310", setl_optins="440300", stmt_begndate=day,
                                                    stmt_enddate=day, medfee_sumamt_fen=medfee,
                                                    fund_pay_sumamt_fen=fund, acct_pay_fen=acct,
                                                    fixmedins_setl_cnt=cnt, refd_setl_flag=refd))


@pytest.mark.business_day
def test_reconciliation_balances_or_names_the_difference(gateway: HttpGateway, signed_in: Caller, clock: Clock) -> None:
    """The centre books the store's business day (Asia/Shanghai): the statement of "today" is the store's today —
    at 16:30 UTC too, when the machine's date is still the day before (issue #16)."""
    caller, today = for_person(signed_in, EMPLOYEE), clock.today
    a = gateway.settle(caller, purchase(EMPLOYEE, [line(1, "jia", 2000)]), gateway.new_msgid()).setlinfo
    b = gateway.settle(caller, purchase(EMPLOYEE, [line(1, "yi", 1500)]), gateway.new_msgid()).setlinfo
    gateway.settle(for_person(signed_in, RESIDENT), purchase(RESIDENT, [line(1, "jia", 900)]), gateway.new_msgid())
    assert _recon(gateway, signed_in, today - timedelta(days=1), 0, 0, 0, 0).balanced  # nothing booked the day before
    ours = _recon(gateway, signed_in, today, a.medfee_sumamt_fen + b.medfee_sumamt_fen,
                  a.fund_pay_sumamt_fen + b.fund_pay_sumamt_fen, a.acct_pay_fen + b.acct_pay_fen, 2)
    assert ours.balanced and ours.stmtinfo.stmt_rslt == "0" and ours.stmtinfo.setl_optins == "440300"
    off = _recon(gateway, signed_in, today, a.medfee_sumamt_fen, a.fund_pay_sumamt_fen, a.acct_pay_fen, 1)
    assert not off.balanced and off.stmtinfo.stmt_rslt == "1"
    assert "医疗费总额" in off.stmtinfo.stmt_rslt_dscr and "结算笔数 中心2 机构1" in off.stmtinfo.stmt_rslt_dscr

    # after a cancellation: with refunds (flag 1/empty) the negative row nets out; without (0) it is left out
    gateway.cancel(caller, m.CancelRequest(setl_id=b.setl_id, mdtrt_id=b.mdtrt_id, psn_no=EMPLOYEE.psn_no))
    assert _recon(gateway, signed_in, today, a.medfee_sumamt_fen, a.fund_pay_sumamt_fen, a.acct_pay_fen, 3).balanced
    assert _recon(gateway, signed_in, today, a.medfee_sumamt_fen + b.medfee_sumamt_fen,
                  a.fund_pay_sumamt_fen + b.fund_pay_sumamt_fen, a.acct_pay_fen + b.acct_pay_fen, 2, "0").balanced


def test_both_spellings_and_both_wire_styles_are_read(gateway: HttpGateway, signed_in: Caller,
                                                      sandbox: SandboxAdmin) -> None:
    """chrgitm_lv 01/02/03 ([HN]) and 1/2/3 ([JX], [OI]); infcode and amounts as strings or numbers."""
    req = purchase(EMPLOYEE, [line(1, "jia", 2000), line(2, "yi", 1000), line(3, "bing", 500)])
    caller = for_person(signed_in, EMPLOYEE)
    live = gateway.pre_settle(caller, req)
    sandbox.set_settings(wire_style="spec", chrgitm_lv_style="1digit")
    spec = gateway.pre_settle(caller, req)
    raw = sandbox.deliveries(msgid=spec.receipt.msgid)[0]["answer"]
    assert '"infcode":"0"' in raw and '"medfee_sumamt":"35.00"' in raw and '"chrgitm_lv":"2"' in raw
    assert [c.chrgitm_lv for c in spec.detlcutinfo] == ["1", "2", "3"]
    assert [c.category for c in spec.detlcutinfo] == [c.category for c in live.detlcutinfo]
    assert spec.setlinfo == replace(live.setlinfo, medins_setl_id=spec.receipt.msgid)
    with pytest.raises(CentreRefused):  # a refusal reads the same in the spec style
        gateway.pre_settle(for_person(signed_in, SUSPENDED), purchase(SUSPENDED, [line(1, "jia", 100)]))


def test_the_directory_can_be_extended(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin) -> None:
    own = m.DrugDetail(**{**line(1, "none", 1000).__dict__, "med_list_codg": "XA02BCA211A012010100154"})
    caller = for_person(signed_in, ELDER)
    assert gateway.pre_settle(caller, purchase(ELDER, [own])).detlcutinfo[0].category.value == "none"
    sandbox.add_directory({"XA02BCA211A012010100154": "1"})
    assert gateway.pre_settle(caller, purchase(ELDER, [own])).detlcutinfo[0].category.value == "jia"


def test_every_demo_card_identifies_its_person(gateway: HttpGateway, signed_in: Caller) -> None:
    """The simulated reader's cards (devices/card/demo_cards.py) are insured persons of the sandbox."""
    from devices.card.demo_cards import DEMO_CARDS

    for card in DEMO_CARDS.values():
        lookup = card.record.person_lookup()  # 1101's input as the card gives it: every str field of the query
        query = m.PersonQuery(mdtrt_cert_type=lookup["mdtrt_cert_type"], mdtrt_cert_no=lookup["mdtrt_cert_no"],
                              card_sn=lookup["card_sn"], certno=lookup["certno"], psn_name=lookup["psn_name"])
        person = gateway.person_info(signed_in, query)
        assert person.baseinfo.psn_name == card.record.name and person.baseinfo.certno == card.record.id_number
        assert person.insuinfo[0].insutype == card.insutype
