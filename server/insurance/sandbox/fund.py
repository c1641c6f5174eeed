"""The sandbox centre's fund model: how a pharmacy purchase splits between fund, account and cash.

Per line (明细分割, detlcutinfo):
- 甲类: all of it is in scope (符合政策范围).
- 乙类: a self-pay-first share (先行自付, `yi_selfpay_ratio`) comes off; the rest is in scope.
- 丙类 and off-list (目录外): all self-paid (全自费).

Per purchase: the insured type's remaining annual deductible (起付线) comes off the in-scope sum
(act_pay_dedc); the fund pays `fund_ratio` of what is left (hifp_pay = fund_pay_sumamt here: no
supplementary funds). The person bears the rest (psn_part_amt). With acct_used_flag=1 the personal
account pays the in-scope self part (先行自付 + deductible + co-pay; and 全自费 too where the region
lets it: `acct_pays_self_pay`) as far as the balance goes; the remainder is cash.

Identities (reference §3.3): medfee_sumamt = fund_pay_sumamt + psn_part_amt;
psn_part_amt = acct_pay + psn_cash_pay; per line fulamt_ownpay + preselfpay + inscp = the line's amount.
All money in integer fen; ratios are Decimal, rounded half up to the fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog.classes import InsuranceCategory
from server.insurance.wire import round_fen


class FundError(ValueError):
    """The purchase cannot be settled as asked (an unsupported insured type, a negative amount)."""


@dataclass(frozen=True)
class Policy:
    fund_ratio: dict[str, Decimal] = field(default_factory=lambda: {"310": Decimal("0.70"), "390": Decimal("0.50")})
    deductible_fen: dict[str, int] = field(default_factory=lambda: {"310": 0, "390": 5000})
    yi_selfpay_ratio: Decimal = Decimal("0.10")
    acct_pays_self_pay: bool = False  # CARD-02: regional; default the account pays in-scope parts only
    fund_pay_type: dict[str, str] = field(default_factory=lambda: {"310": "310100", "390": "390100"})

    def as_dict(self) -> dict[str, Any]:
        return {"fund_ratio": {k: str(v) for k, v in self.fund_ratio.items()},
                "deductible_fen": dict(self.deductible_fen), "yi_selfpay_ratio": str(self.yi_selfpay_ratio),
                "acct_pays_self_pay": self.acct_pays_self_pay, "fund_pay_type": dict(self.fund_pay_type)}


@dataclass(frozen=True)
class Line:
    feedetl_sn: str
    amount_fen: int
    category: InsuranceCategory


@dataclass(frozen=True)
class LineCut:
    feedetl_sn: str
    amount_fen: int
    category: InsuranceCategory
    fulamt_ownpay_fen: int
    preselfpay_fen: int
    inscp_fen: int
    selfpay_prop: Decimal


@dataclass(frozen=True)
class Split:
    medfee_fen: int
    fulamt_ownpay_fen: int
    preselfpay_fen: int
    inscp_fen: int
    act_pay_dedc_fen: int
    hifp_pay_fen: int
    fund_pay_sumamt_fen: int
    psn_part_amt_fen: int
    acct_pay_fen: int
    psn_cash_pay_fen: int
    balc_after_fen: int
    fund_ratio: Decimal
    lines: tuple[LineCut, ...]


def cut_line(line: Line, policy: Policy) -> LineCut:
    if line.amount_fen < 0:
        raise FundError(f"明细 {line.feedetl_sn} 金额为负 / line {line.feedetl_sn} has a negative amount")
    if line.category is InsuranceCategory.JIA:
        return LineCut(line.feedetl_sn, line.amount_fen, line.category, 0, 0, line.amount_fen, Decimal(0))
    if line.category is InsuranceCategory.YI:
        pre = round_fen(Decimal(line.amount_fen) * policy.yi_selfpay_ratio)
        return LineCut(line.feedetl_sn, line.amount_fen, line.category, 0, pre, line.amount_fen - pre,
                       policy.yi_selfpay_ratio)
    return LineCut(line.feedetl_sn, line.amount_fen, line.category, line.amount_fen, 0, 0, Decimal(1))


def split(lines: Sequence[Line], insutype: str, *, balance_fen: int, deductible_left_fen: int, acct_used: bool,
          policy: Policy) -> Split:
    if insutype not in policy.fund_ratio:
        raise FundError(f"险种 {insutype} 不支持药店购药结算 / insured type {insutype} cannot settle at a pharmacy")
    cuts = tuple(cut_line(ln, policy) for ln in lines)
    medfee = sum(c.amount_fen for c in cuts)
    fulamt = sum(c.fulamt_ownpay_fen for c in cuts)
    pre = sum(c.preselfpay_fen for c in cuts)
    inscp = sum(c.inscp_fen for c in cuts)
    dedc = max(0, min(inscp, deductible_left_fen))
    ratio = policy.fund_ratio[insutype]
    hifp = round_fen(Decimal(inscp - dedc) * ratio)
    fund = hifp
    psn_part = medfee - fund
    account_may_pay = psn_part if policy.acct_pays_self_pay else psn_part - fulamt
    acct = max(0, min(account_may_pay, balance_fen)) if acct_used else 0
    cash = psn_part - acct
    return Split(medfee, fulamt, pre, inscp, dedc, hifp, fund, psn_part, acct, cash, balance_fen - acct, ratio, cuts)
