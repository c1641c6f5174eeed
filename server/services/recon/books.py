"""Our side of the reconciliation: each settlement in our books as the centre answered it — the stored 2102
answer (card_settlement.answer) and, for a cancelled one, the 2103 answer as the message log received it — in its
clearing group, on the centre's settlement day (server.insurance.clearing). Amounts are the answers' own figures,
summed as written and rounded to the fen once per total: never recomputed from our lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.db.models import CardSettlement, InsuranceMessage, MessageDirection, MessageOutcome, SaleInsured
from server.db.models import SettlementStatus as S
from server.db.models.base import table_of
from server.db.uow import Unit
from server.insurance import wire
from server.insurance.clearing import ClearingGroup, centre_day, group_of

_SETL, _INSURED, _MSG = table_of(CardSettlement), table_of(SaleInsured), table_of(InsuranceMessage)
REFUNDS_INCLUDED, REFUNDS_EXCLUDED = "1", "0"  # refd_setl_flag of 3201/3202


@dataclass(frozen=True, slots=True)
class Booked:
    setl_id: str
    mdtrt_id: str
    psn_no: str
    msgid: str  # the 2102's (or the 2103's for a refund)
    refund: bool  # a 2103 (negative amounts)
    group: ClearingGroup
    day: date  # the centre's settlement day
    medfee: Decimal  # yuan, as the centre wrote them
    fund: Decimal
    acct: Decimal
    cash: Decimal

    @property
    def refd_setl_flag(self) -> str:
        return "1" if self.refund else "0"


@dataclass(frozen=True, slots=True)
class Totals:
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    cash_fen: int
    count: int

    def figures(self) -> tuple[int, ...]:
        return (self.medfee_fen, self.fund_fen, self.acct_fen, self.cash_fen, self.count)


def totals(rows: Iterable[Booked]) -> Totals:
    rows = list(rows)

    def fen(values: Iterable[Decimal]) -> int:
        return wire.round_fen(sum(values, Decimal(0)) * 100)

    return Totals(fen(r.medfee for r in rows), fen(r.fund for r in rows), fen(r.acct for r in rows),
                  fen(r.cash for r in rows), len(rows))


def counted(rows: Iterable[Booked], refd_setl_flag: str) -> list[Booked]:
    """The rows a 3201 under this refund policy counts: refunds too ("1"/""), or the original settlements only."""
    return [r for r in rows if refd_setl_flag != REFUNDS_EXCLUDED or not r.refund]


def _amount(info: dict[str, Any], *keys: str) -> Decimal:
    for k in keys:
        if info.get(k) not in (None, ""):
            return wire.to_decimal(info[k], k)
    return Decimal(0)


def _row(info: dict[str, Any], original: dict[str, Any], insured_admdvs: str, store_admdvs: str, tz: ZoneInfo,
         fallback: datetime, msgid: str, refund: bool, psn_no: str) -> Booked:
    # a cancellation belongs to its settlement's group (its answer names no 险种); its day is its own
    return Booked(setl_id=wire.to_text(info.get("setl_id")), mdtrt_id=wire.to_text(info.get("mdtrt_id")),
                  psn_no=wire.to_text(info.get("psn_no")) or psn_no, msgid=msgid, refund=refund,
                  group=group_of(original, insuplc_admdvs=insured_admdvs, store_admdvs=store_admdvs),
                  day=centre_day(info, tz, fallback), medfee=_amount(info, "medfee_sumamt"),
                  fund=_amount(info, "fund_pay_sumamt"), acct=_amount(info, "acct_pay"),
                  cash=_amount(info, "psn_cash_pay", "cash_payamt"))


def _cancel_answers(u: Unit, store_id: int, msgids: Sequence[str]) -> dict[str, tuple[dict[str, Any], datetime]]:
    """The 2103 answers (setlinfo, when received) the message log holds for these msgids."""
    if not msgids:
        return {}
    out: dict[str, tuple[dict[str, Any], datetime]] = {}
    q = (sa.select(_MSG.c.msgid, _MSG.c.body, _MSG.c.at)
         .where(_MSG.c.store_id == store_id, _MSG.c.infno == "2103", _MSG.c.direction == MessageDirection.IN.value,
                _MSG.c.outcome == MessageOutcome.OK.value, _MSG.c.msgid.in_(list(msgids))))
    for msgid, body, at in u.connection().execute(q):
        try:
            doc = wire.loads(body)
        except (ValueError, wire.WireFormatError):
            continue
        info = doc.get("output", {}).get("setlinfo") if isinstance(doc, dict) else None
        if isinstance(info, list):
            info = info[0] if info else None
        if isinstance(info, dict):
            out[msgid] = (info, at)
    return out


def booked(u: Unit, store_id: int, tz: ZoneInfo, store_admdvs: str, first: date, last: date) -> list[Booked]:
    """Every settlement (and cancellation) of ours whose centre day is within [first, last]."""
    # The centre's time and ours differ by seconds: read a day's margin either side, then keep by the centre's day.
    lo = datetime.combine(first - timedelta(days=1), time(), tz)
    hi = datetime.combine(last + timedelta(days=2), time(), tz)
    q = (sa.select(_SETL.c.msgid, _SETL.c.status, _SETL.c.answer, _SETL.c.resolved_at, _SETL.c.cancel_msgid,
                   _INSURED.c.insuplc_admdvs, _INSURED.c.psn_no)
         .select_from(_SETL.outerjoin(_INSURED, _INSURED.c.sale_id == _SETL.c.sale_id))
         .where(_SETL.c.store_id == store_id, _SETL.c.status.in_([S.SETTLED.value, S.CANCELLED.value]),
                _SETL.c.answer.is_not(None), _SETL.c.resolved_at >= lo,
                sa.or_(_SETL.c.status == S.CANCELLED.value, _SETL.c.resolved_at < hi))
         .order_by(_SETL.c.id))
    found = list(u.connection().execute(q))
    cancels = _cancel_answers(u, store_id, [r.cancel_msgid for r in found
                                            if r.status == S.CANCELLED.value and r.cancel_msgid])
    out: list[Booked] = []
    for r in found:
        answer = dict(r.answer or {})
        admdvs = r.insuplc_admdvs or ""
        out.append(_row(answer, answer, admdvs, store_admdvs, tz, r.resolved_at, r.msgid, False, r.psn_no or ""))
        if r.status == S.CANCELLED.value and r.cancel_msgid in cancels:
            info, at = cancels[r.cancel_msgid]
            out.append(_row(info, answer, admdvs, store_admdvs, tz, at, r.cancel_msgid, True, r.psn_no or ""))
    return [b for b in out if first <= b.day <= last]
