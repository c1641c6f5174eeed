"""What the insurance card may pay (CARD-02, CARD-07, RX-01/02 for Rx lines, CARD-01) — pure functions.

Every line of a card sale is classified: card-eligible, or self-pay with the reason. A mixed basket is
split: the card settles the eligible lines, the rest is paid another way. A line forced onto the card
against its classification is refused with the rule ID, whatever the client sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from catalog.classes import GspClass, InsuranceCategory
from catalog.violations import Violation


@dataclass(frozen=True, slots=True)
class CardLine:
    sale_line_id: int
    name: str
    gsp_class: GspClass
    category: InsuranceCategory
    nhsa_code: str | None
    mapping_uploaded_on: date | None  # CARD-07: the mapping (code, 甲/乙) reached the centre
    unit_price_fen: int
    amount_fen: int
    rx: bool  # a prescription drug
    rx_for_insurance: bool  # tied to an approved 外配处方 checked for card payment (RX-01, RX-02)


_SELF_PAY = {InsuranceCategory.BING: ("丙类药品", "a Class C (丙类) drug"),
             InsuranceCategory.NONE: ("医保目录外药品", "off the insurance list (目录外)")}


def _v(rule: str, zh: str, en: str, line: CardLine) -> Violation:
    return Violation(rule, zh, en, {"sale_line_id": line.sale_line_id, "item": line.name})


def line_refusals(line: CardLine, sale_date: date) -> list[Violation]:
    """Why the card may not pay this line; empty when it may."""
    if not line.gsp_class.is_drug:
        return [_v("CARD-02", f"{line.name} 为非药品（{line.gsp_class.label}），不得使用医保卡支付",
                   f"{line.name} is not a drug: never paid by the insurance card", line)]
    if line.unit_price_fen == 0 or line.amount_fen == 0:
        return [_v("CARD-02", f"{line.name} 为赠品/免费行，不得列入医保结算",
                   f"{line.name} is a gift or free line: never part of a card settlement", line)]
    out: list[Violation] = []
    if line.category not in (InsuranceCategory.JIA, InsuranceCategory.YI):
        zh, en = _SELF_PAY.get(line.category, ("非医保目录药品", "not on the insurance list"))
        out.append(_v("CARD-02", f"{line.name} 属{zh}，须自费", f"{line.name} is {en}: self-pay", line))
    elif not line.nhsa_code:
        out.append(_v("CARD-07", f"{line.name} 无国家医保编码，不能医保结算",
                      f"{line.name} has no national insurance code", line))
    elif line.mapping_uploaded_on is None or line.mapping_uploaded_on > sale_date:
        out.append(_v("CARD-07", f"{line.name} 的医保对照尚未上传，暂按自费",
                      f"{line.name}'s mapping has not been uploaded to the centre: self-pay until it is", line))
    if line.rx and not line.rx_for_insurance:
        out.append(_v("RX-02", f"{line.name} 为处方药，须凭审核通过的外配处方方可刷卡",
                      f"{line.name} is Rx: the card pays it only against an approved 外配处方", line))
    return out


@dataclass(frozen=True, slots=True)
class Split:
    card: list[CardLine]  # settled by the card
    self_pay: list[tuple[CardLine, list[Violation]]]  # paid another way, with why

    @property
    def card_total_fen(self) -> int:
        return sum(ln.amount_fen for ln in self.card)

    @property
    def self_pay_total_fen(self) -> int:
        return sum(ln.amount_fen for ln, _ in self.self_pay)


def split_basket(lines: list[CardLine], sale_date: date) -> Split:
    card: list[CardLine] = []
    self_pay: list[tuple[CardLine, list[Violation]]] = []
    for ln in lines:
        if problems := line_refusals(ln, sale_date):
            self_pay.append((ln, problems))
        else:
            card.append(ln)
    return Split(card, self_pay)


def forced_refusals(lines: list[CardLine], requested: set[int], sale_date: date) -> list[Violation]:
    """The client asked the card to pay these sale lines: each one the card may not pay is refused."""
    by_id = {ln.sale_line_id: ln for ln in lines}
    out: list[Violation] = []
    for line_id in sorted(requested):
        line = by_id.get(line_id)
        if line is None:
            out.append(Violation("CARD-01", f"销售行 {line_id} 不在本单中，不得结算",
                                 f"sale line {line_id} is not part of this sale", {"sale_line_id": line_id}))
        else:
            out.extend(line_refusals(line, sale_date))
    return out
