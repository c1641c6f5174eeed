"""What the insurance card may pay (CARD-02, CARD-07, RX-01/02 for Rx lines, CARD-01), and who may buy with it
(RX-11, CARD-05) — pure functions.

Every line of a card sale is classified: card-eligible, or self-pay with the reason. A mixed basket is
split: the card settles the eligible lines, the rest is paid another way. A line forced onto the card
against its classification is refused with the rule ID, whatever the client sends.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

from catalog.classes import GspClass, InsuranceCategory
from catalog.codes import id_check_char
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


# --- the sale as a whole: no disguised route onto the card (CARD-02, CARD-03) -----------------------------

@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line of a card sale with the price the catalog asks for its item now (the one price, CARD-03)."""

    sale_line_id: int
    name: str
    gsp_class: GspClass
    unit_price_fen: int
    amount_fen: int
    catalog_price_fen: int


def disguise_refusals(lines: list[PricedLine]) -> list[Violation]:
    """Why the card may not pay any line of this sale: a gift or free line rides inside it (变相: the card-paid
    lines carry its price), or a line is sold below the catalog's one price (a bundle or discount that moves a
    non-drug's price into the card-paid lines). The whole sale is refused the card, not only the line: the
    buyer takes the line off, or pays the sale another way."""
    out: list[Violation] = []
    for ln in lines:
        kind = "非药品" if not ln.gsp_class.is_drug else "药品"
        if ln.unit_price_fen == 0 or ln.amount_fen == 0:
            out.append(Violation(
                "CARD-02", f"本单含赠品/免费行（{ln.name}，{kind}），不得医保结算：请删除该行或改用其他方式支付",
                f"the sale carries a gift or free line ({ln.name}): no card settlement while it does",
                {"sale_line_id": ln.sale_line_id, "item": ln.name}))
        elif ln.unit_price_fen != ln.catalog_price_fen:
            rule = "CARD-02" if not ln.gsp_class.is_drug else "CARD-03"
            out.append(Violation(
                rule, f"{ln.name} 的售价 {ln.unit_price_fen} 分与目录价 {ln.catalog_price_fen} 分不一致（捆绑/折价），"
                      "不得医保结算：请删除后重新扫描",
                f"{ln.name} is sold at {ln.unit_price_fen} fen, not its catalog price {ln.catalog_price_fen} fen "
                "(a bundle or discount): no card settlement; take it off and scan it again",
                {"sale_line_id": ln.sale_line_id, "item": ln.name, "unit_price_fen": ln.unit_price_fen,
                 "catalog_price_fen": ln.catalog_price_fen}))
    return out


# --- who buys: a proxy purchase (代购, RX-11) and the signed purchase list (CARD-05) ---------------------

_ID18 = re.compile(r"^\d{17}[\dX]$")
_OTHER_DOCUMENT = re.compile(r"^[A-Z0-9]{6,30}$")


def proxy_refusals(buyer_name: str, buyer_certno: str) -> list[Violation]:
    """RX-11: a proxy purchase records the buyer's name and identity document; one without the other is
    refused. An 18-character number is a 居民身份证号 and must carry its check character; another document
    (passport, 通行证) is 6–30 letters and digits."""
    name, doc = buyer_name.strip(), buyer_certno.strip().upper()
    if not name and not doc:
        return []
    if not name or not doc:
        return [Violation("RX-11", "代购须同时登记购药人姓名和身份证件号码",
                          "a proxy purchase records both the buyer's name and identity document",
                          {"buyer_name": bool(name), "buyer_certno": bool(doc)})]
    if _ID18.match(doc):
        if id_check_char(doc[:17]) != doc[17]:
            return [Violation("RX-11", "购药人身份证号码校验位不符，请核对证件", "the buyer's ID number fails its check "
                              "character: check the document", {})]
    elif not _OTHER_DOCUMENT.match(doc):
        return [Violation("RX-11", "购药人证件号码格式不正确", "the buyer's identity document number is not valid", {})]
    return []


def signature_refusals(required: bool, signed_lines: str, lines_now: str) -> list[Violation]:
    """CARD-05: where the store collects signatures, the insured person (or the proxy buyer) has confirmed the
    purchase list by signature — the list as it is now (`signed_lines`: the digest of the list signed, empty
    when none; `lines_now`: the digest of the sale's lines)."""
    if not required:
        return []
    if not signed_lines:
        return [Violation("CARD-05", "参保人（或代购人）尚未在购药清单上签字确认，不能医保结算",
                          "the insured person (or the proxy buyer) has not signed the purchase list", {})]
    if signed_lines != lines_now:
        return [Violation("CARD-05", "签字后购药清单已改变，请重新签字确认",
                          "the purchase list changed after it was signed: sign it again", {})]
    return []


def lines_digest(lines: list[tuple[int, int, int]]) -> str:
    """The purchase list as signed: each line's id, quantity and amount, in order, as one short digest."""
    text = ";".join(f"{i}:{q}:{a}" for i, q, a in sorted(lines))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
