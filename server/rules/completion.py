"""What refuses a sale's completion, in one pure function over facts read once.

The cash payment (complete) and the card's precheck before 2102 both ask this function, so a sale is
refused the same way, with the same body, whichever tender it is paid with. What needs the database to
decide — the prescription (RX-01/04/10, server.services.rx) and stock (GSP-06, the stock ledger) — is
checked by those rules after this one says the sale itself may complete; the trace codes after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from server.rules.tenders import TenderOffer, offer_refusals, tender_refusals

CONFLICT, UNPROCESSABLE = 409, 422

_STATE_ZH = {"open": "打开", "suspended": "挂单", "completed": "完成", "voided": "作废", "settling": "在医保结算中"}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A completion refused: the status says whether the sale's state (409) or what was sent (422) is at fault."""

    status: int
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineFacts:
    line_id: int
    item_code: str
    item_name: str
    qty: int
    split: bool
    amount_fen: int
    needs_trace_codes: bool  # a traced drug that is not 无码 stock
    codes_scanned: int


@dataclass(frozen=True, slots=True)
class CompletionFacts:
    sale_status: str
    sale_till_id: int
    sale_shift_id: int
    till_id: int  # the till asking, and its open shift
    shift_id: int
    lines: Sequence[LineFacts]
    offers: Sequence[TenderOffer]
    settling: bool  # the card settlement completes the sale with the centre's answer
    card_part_pending: bool = False  # the card's precheck: the card's share is not known before 2102


def trace_code_refusal(lines: Sequence[LineFacts]) -> Refusal | None:
    """Every box of a traced drug carries its code (a split line: its box's one); the first line short of
    them is named, and every such line listed."""
    out: list[Refusal] = []
    for ln in lines:
        need = 1 if ln.split else ln.qty
        if ln.needs_trace_codes and ln.codes_scanned != need:
            out.append(Refusal(UNPROCESSABLE, "TRACE-MISSING", f"{ln.item_name} 需扫描 {need} 个追溯码，已扫 {ln.codes_scanned} 个",
                               f"{ln.item_code} needs {need} trace code(s); {ln.codes_scanned} scanned",
                               {"line_id": ln.line_id, "needed": need, "scanned": ln.codes_scanned}))
    if not out:
        return None
    first = out[0]
    return Refusal(first.status, first.code, first.message_zh, first.message_en,
                   first.details | {"lines": [m.details for m in out]})


def completion_refusal(f: CompletionFacts) -> Refusal | None:
    """The first reason the sale itself cannot complete now, or None. In this order: the sale's state, the
    card's tender, the till and shift, an empty sale, the tenders. The caller then asks, in this order, the
    prescription's rules, `trace_code_refusal` and the stock."""
    expected = "settling" if f.settling else "open"
    if f.sale_status != expected:
        code = "SETTLE-UNCERTAIN" if f.sale_status == "settling" else "SALE-STATE"
        return Refusal(CONFLICT, code, f"销售单已{_STATE_ZH.get(f.sale_status, f.sale_status)}，不能收款",
                       f"the sale is {f.sale_status}", {"status": f.sale_status})
    if not f.settling and any(o.kind == "insurance" for o in f.offers):
        return Refusal(UNPROCESSABLE, "CARD-01", "医保支付须经医保结算，不能直接记为收款",
                       "the insurance tender comes only from a card settlement")
    if f.sale_till_id != f.till_id:
        return Refusal(CONFLICT, "SALE-TILL", "该销售单正在其他收款机上处理", "the sale is open on another till")
    if f.sale_shift_id != f.shift_id:
        return Refusal(CONFLICT, "SHIFT-CLOSED", "该销售单所属班次已结班，请取单后在本班次收款",
                       "the sale's shift is closed; resume it in the current shift")
    if not f.lines:
        return Refusal(UNPROCESSABLE, "SALE-EMPTY", "空单不能收款", "an empty sale cannot be completed")
    total = sum(ln.amount_fen for ln in f.lines)
    problems = offer_refusals(list(f.offers)) if f.card_part_pending else tender_refusals(total, list(f.offers))
    if problems:
        first = problems[0]
        details = dict(first.details)
        if len(problems) > 1:
            details["violations"] = [v.as_dict() for v in problems]
        return Refusal(UNPROCESSABLE, first.rule, first.message_zh, first.message_en, details)
    return None
