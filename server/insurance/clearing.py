"""The groups the centre clears and reconciles by, and the day a settlement belongs to.

The daily reconciliation (3201), the card-purchase statement (ST-03) and the receivables (ST-05) all
group settlements the same way, so each can prove the others: 险种 × 清算类别 × 清算经办机构 × 本地/异地.
A settlement's day is the centre's settlement time (`setl_time` in the stored 2102 answer), never our own
clock: a sale completed at 23:59:59 whose answer says 00:00:01 belongs to the next day, as the centre
counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

SETL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, order=True)
class ClearingGroup:
    insutype: str  # 险种
    clr_type: str  # 清算类别
    clr_optins: str  # 清算经办机构
    nonlocal_: bool  # 异地: the insured person's 参保地 is not the store's 区划

    @property
    def label_zh(self) -> str:
        return f"{self.insutype}/{self.clr_type}/{self.clr_optins}/{'异地' if self.nonlocal_ else '本地'}"


def group_of(answer: Mapping[str, Any], *, insuplc_admdvs: str, store_admdvs: str) -> ClearingGroup:
    """The group of one settlement, from the centre's own answer (2102 setlinfo as stored)."""
    return ClearingGroup(insutype=str(answer.get("insutype", "")), clr_type=str(answer.get("clr_type", "")),
                         clr_optins=str(answer.get("clr_optins", "")),
                         nonlocal_=bool(insuplc_admdvs) and insuplc_admdvs != store_admdvs)


def settled_at(answer: Mapping[str, Any], tz: ZoneInfo) -> datetime | None:
    """The centre's settlement time as an aware instant (the centre writes its local time, the store's zone)."""
    text = str(answer.get("setl_time", "")).strip()
    if not text:
        return None
    try:
        if len(text) == 19 and text[10] == " " and text[13] == text[16] == ":":  # the spec's form: fromisoformat is ~20x faster
            return datetime.fromisoformat(text).replace(tzinfo=tz)  # than strptime, which a month's close reads
        return datetime.strptime(text, SETL_TIME_FORMAT).replace(tzinfo=tz)
    except ValueError:
        return None


def centre_day(answer: Mapping[str, Any], tz: ZoneInfo, fallback: datetime) -> date:
    """The business day the centre books the settlement on; `fallback` (our resolved_at) only when the answer
    carries no readable time, which a conforming centre never sends."""
    when = settled_at(answer, tz)
    return (when or fallback.astimezone(tz)).date()
