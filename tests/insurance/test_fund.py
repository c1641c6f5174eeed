"""The sandbox's fund model: hand-worked cases for 职工 and 居民, and the identities of reference §3.3
checked over generated baskets — on the pure model and through the real HTTP peer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.classes import InsuranceCategory
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.sandbox.fund import FundError, Line, Policy, split
from server.insurance.sandbox.persons import DemoPerson
from tests.insurance.conftest import EMPLOYEE, RESIDENT, RETIREE, for_person, line, purchase

JIA, YI, BING, NONE = (InsuranceCategory.JIA, InsuranceCategory.YI, InsuranceCategory.BING,
                       InsuranceCategory.NONE)
POLICY = Policy()


def test_employee_worked_example() -> None:
    # 甲 33.33 + 乙 10.05 (先行自付 10 % = 1.005 → 1.01) + 丙 2.00; 70 %, no deductible, 500 元 in the account
    s = split([Line("1", 3333, JIA), Line("2", 1005, YI), Line("3", 200, BING)], "310", balance_fen=50000,
              deductible_left_fen=0, acct_used=True, policy=POLICY)
    assert (s.medfee_fen, s.fulamt_ownpay_fen, s.preselfpay_fen, s.inscp_fen) == (4538, 200, 101, 4237)
    assert s.hifp_pay_fen == 2966  # 42.37 × 0.70 = 29.659 → 29.66
    assert (s.psn_part_amt_fen, s.acct_pay_fen, s.psn_cash_pay_fen, s.balc_after_fen) == (1572, 1372, 200, 48628)


def test_resident_worked_example_with_the_deductible() -> None:
    s = split([Line("1", 3000, JIA), Line("2", 4000, YI)], "390", balance_fen=0, deductible_left_fen=5000,
              acct_used=True, policy=POLICY)
    assert (s.inscp_fen, s.act_pay_dedc_fen, s.hifp_pay_fen) == (6600, 5000, 800)  # (66 − 50) × 50 %
    assert (s.psn_part_amt_fen, s.acct_pay_fen, s.psn_cash_pay_fen) == (6200, 0, 6200)


def test_the_account_pays_self_pay_only_where_the_region_allows() -> None:
    lines = [Line("1", 1000, BING)]
    assert split(lines, "310", balance_fen=5000, deductible_left_fen=0, acct_used=True, policy=POLICY).acct_pay_fen == 0
    lenient = Policy(acct_pays_self_pay=True)
    assert split(lines, "310", balance_fen=5000, deductible_left_fen=0, acct_used=True,
                 policy=lenient).acct_pay_fen == 1000


def test_refusals() -> None:
    with pytest.raises(FundError, match="350"):
        split([Line("1", 100, JIA)], "350", balance_fen=0, deductible_left_fen=0, acct_used=True, policy=POLICY)
    with pytest.raises(FundError, match="negative"):
        split([Line("1", -1, JIA)], "310", balance_fen=0, deductible_left_fen=0, acct_used=True, policy=POLICY)


baskets = st.lists(st.tuples(st.sampled_from([JIA, YI, BING, NONE]), st.integers(0, 500_000)), min_size=1,
                   max_size=8)
ratios = st.decimals(min_value=0, max_value=1, places=2)


@given(baskets, st.sampled_from(["310", "390"]), st.integers(0, 200_000), st.integers(0, 100_000), st.booleans(),
       ratios, ratios, st.booleans())
def test_identities_hold_for_every_basket(basket: list[tuple[InsuranceCategory, int]], insutype: str, balance: int,
                                          deductible: int, acct_used: bool, fund_ratio: Decimal, yi_ratio: Decimal,
                                          acct_self_pay: bool) -> None:
    policy = Policy(fund_ratio={insutype: fund_ratio}, yi_selfpay_ratio=yi_ratio, acct_pays_self_pay=acct_self_pay)
    lines = [Line(str(i + 1), amount, cat) for i, (cat, amount) in enumerate(basket)]
    s = split(lines, insutype, balance_fen=balance, deductible_left_fen=deductible, acct_used=acct_used,
              policy=policy)
    assert s.medfee_fen == sum(a for _, a in basket)
    assert s.medfee_fen == s.fund_pay_sumamt_fen + s.psn_part_amt_fen
    assert s.psn_part_amt_fen == s.acct_pay_fen + s.psn_cash_pay_fen
    assert s.fund_pay_sumamt_fen == s.hifp_pay_fen
    for c in s.lines:
        assert c.fulamt_ownpay_fen + c.preselfpay_fen + c.inscp_fen == c.amount_fen
        assert min(c.fulamt_ownpay_fen, c.preselfpay_fen, c.inscp_fen) >= 0
        if c.category in (BING, NONE):
            assert c.inscp_fen == 0  # 丙类 and off-list are wholly self-paid
    assert 0 <= s.act_pay_dedc_fen <= min(deductible, s.inscp_fen)
    assert 0 <= s.fund_pay_sumamt_fen <= s.inscp_fen - s.act_pay_dedc_fen
    assert 0 <= s.acct_pay_fen <= balance and s.balc_after_fen == balance - s.acct_pay_fen >= 0
    if not acct_used:
        assert s.acct_pay_fen == 0
    if not acct_self_pay:
        assert s.acct_pay_fen <= s.psn_part_amt_fen - s.fulamt_ownpay_fen  # never the 全自费 part
    assert s.psn_cash_pay_fen >= 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["jia", "yi", "bing", "none"]), st.integers(1, 99_999), st.integers(1, 5)),
                min_size=1, max_size=6),
       st.sampled_from([EMPLOYEE, RETIREE, RESIDENT]), st.booleans())
def test_identities_hold_on_the_wire(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin,
                                     basket: list[tuple[str, int, int]], person: DemoPerson, acct_used: bool) -> None:
    """2101 through the HTTP adapter: what the centre answers obeys the identities, in fen, for 职工 and 居民."""
    req = purchase(person, [line(i + 1, cat, price, qty) for i, (cat, price, qty) in enumerate(basket)], acct_used)
    pre = gateway.pre_settle(for_person(signed_in, person), req)
    s = pre.setlinfo
    assert s.medfee_sumamt_fen == req.druginfo.medfee_sumamt_fen
    assert s.medfee_sumamt_fen == s.fund_pay_sumamt_fen + s.psn_part_amt_fen
    assert s.psn_part_amt_fen == s.acct_pay_fen + s.psn_cash_pay_fen
    assert s.balc_fen == person.balance_fen - s.acct_pay_fen
    assert sum(c.det_item_fee_sumamt_fen for c in pre.detlcutinfo) == s.medfee_sumamt_fen
    assert sum(c.fulamt_ownpay_amt_fen for c in pre.detlcutinfo) == s.fulamt_ownpay_amt_fen
    assert sum(c.inscp_scp_amt_fen for c in pre.detlcutinfo) == s.inscp_scp_amt_fen
    assert sum(d.fund_payamt_fen for d in pre.setldetail) == s.fund_pay_sumamt_fen
    assert [c.category.value for c in pre.detlcutinfo] == [cat for cat, _, _ in basket]
