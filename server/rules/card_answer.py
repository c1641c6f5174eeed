"""The centre's answer settles exactly the sale (CARD-01) — pure functions.

A 2101 or 2102 answer is taken only when it settles what was sent: its 医疗费总额 is the card lines' total
(rounded half up to the fen, as a centre may answer with a third place), and its parts — fund, personal account
and the person's cash — add up to that total. A preview that fails is refused with nothing booked; a settlement
that fails is taken back (2601), never completed with other figures than the sale's.
"""

from __future__ import annotations

from decimal import Decimal

from catalog.violations import Violation

FEN = Decimal("0.01")


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def answer_refusals(sent_fen: int, answered_fen: int, total: Decimal, parts: Decimal, infno: str) -> list[Violation]:
    """Why the centre's answer cannot be taken for this sale; empty when it can.

    `sent_fen`: the medfee_sumamt sent (the sale's card lines); `answered_fen`: the answer's, rounded half up;
    `total` and `parts`: the answer's total and fund + account + cash, in yuan as written."""
    out: list[Violation] = []
    if answered_fen != sent_fen:
        out.append(Violation(
            "CARD-01", f"医保中心{infno}应答的医疗费总额 {_yuan(answered_fen)} 元与本单医保部分 {_yuan(sent_fen)} 元不符，"
                       "不能按此结算",
            f"the centre's {infno} answer settles {_yuan(answered_fen)}, not this sale's {_yuan(sent_fen)}",
            {"infno": infno, "sent_fen": sent_fen, "answered_fen": answered_fen}))
    elif abs(total - parts) >= FEN:
        out.append(Violation(
            "CARD-01", f"医保中心{infno}应答的支付合计 {parts} 元与医疗费总额 {total} 元不符，不能按此结算",
            f"the centre's {infno} answer's parts ({parts}) do not add up to its total ({total})",
            {"infno": infno, "total": str(total), "parts": str(parts)}))
    return out
