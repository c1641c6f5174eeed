"""How a sale may be paid: pure checks over the tenders offered. New tenders plug in here.

Every tender pays `amount_fen` of the sale; the amounts add up to the total exactly. Only cash may
be over-tendered, and change is given only from cash. Tender kinds the store cannot take yet (the
insurance card comes with its own issue) are refused by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from catalog.violations import Violation


@dataclass(frozen=True, slots=True)
class TenderOffer:
    kind: str
    amount_fen: int
    tendered_fen: int
    reference: str = ""


def _cash(t: TenderOffer) -> list[Violation]:
    if t.tendered_fen < t.amount_fen:
        return [Violation("TENDER-CASH", f"实收现金 {t.tendered_fen / 100:.2f} 元少于应付 {t.amount_fen / 100:.2f} 元",
                          f"cash tendered {t.tendered_fen} fen is less than the {t.amount_fen} fen it pays",
                          {"tendered_fen": t.tendered_fen, "amount_fen": t.amount_fen})]
    return []


def _other(t: TenderOffer) -> list[Violation]:
    out = []
    if t.tendered_fen != t.amount_fen:
        out.append(Violation("TENDER-CHANGE", "只有现金可以找零", "change is given only from cash",
                             {"kind": t.kind, "tendered_fen": t.tendered_fen, "amount_fen": t.amount_fen}))
    if not t.reference.strip():
        out.append(Violation("TENDER-REF", "其他支付方式须记录交易参考号", "an other tender needs its transaction reference",
                             {"kind": t.kind}))
    return out


def _insurance(t: TenderOffer) -> list[Violation]:
    """The card's part (fund + personal account): what the centre settled, referenced by its setl_id."""
    if t.tendered_fen != t.amount_fen:
        return [Violation("TENDER-CHANGE", "只有现金可以找零", "change is given only from cash", {"kind": t.kind})]
    if not t.reference.strip():
        return [Violation("CARD-01", "医保支付须有结算号", "an insurance tender needs the centre's setl_id", {"kind": t.kind})]
    return []


TENDER_RULES: dict[str, Callable[[TenderOffer], list[Violation]]] = {"cash": _cash, "other": _other,
                                                                     "insurance": _insurance}


def offer_refusals(offers: list[TenderOffer]) -> list[Violation]:
    """Each tender on its own (kind, sign, change, reference) — what can be checked before the total is known."""
    out: list[Violation] = []
    for t in offers:
        rule = TENDER_RULES.get(t.kind)
        if rule is None:
            out.append(Violation("TENDER-KIND", f"暂不支持的支付方式：{t.kind}", f"tender kind {t.kind!r} is not accepted",
                                 {"kind": t.kind}))
            continue
        if t.amount_fen < 0 or t.tendered_fen < 0:
            out.append(Violation("TENDER-SUM", "支付金额不能为负", "tender amounts cannot be negative", {"kind": t.kind}))
            continue
        out.extend(rule(t))
    return out


def tender_refusals(total_fen: int, offers: list[TenderOffer]) -> list[Violation]:
    if not offers:
        return [Violation("TENDER-SUM", "请选择支付方式", "no tender given", {"total_fen": total_fen})]
    out = offer_refusals(offers)
    if sum(1 for t in offers if t.kind == "cash") > 1:
        out.append(Violation("TENDER-CASH", "现金只能录入一笔", "give cash as one tender", {}))
    paid = sum(t.amount_fen for t in offers)
    if paid != total_fen:
        out.append(Violation("TENDER-SUM", f"支付合计 {paid / 100:.2f} 元与应收 {total_fen / 100:.2f} 元不符",
                             f"tenders pay {paid} fen but the sale is {total_fen} fen",
                             {"paid_fen": paid, "total_fen": total_fen}))
    return out


def change_fen(offers: list[TenderOffer]) -> int:
    return sum(t.tendered_fen - t.amount_fen for t in offers if t.kind == "cash")
