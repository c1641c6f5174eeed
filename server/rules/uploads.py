"""ST-06, data delivered on time and complete: the uploads' backlog judged against its allowed age, and a month
that cannot close while the centre has not accepted its facts. Pure: over plain facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from catalog.violations import Violation

RULE = "ST-06"
# What a row says of the stock ledger: a person correcting a rejected row may not change these (a wrong quantity
# is a stock correction, sent as 3507 and the corrected row).
LEDGER_FIELDS = frozenset({"fixmedins_bchno", "cnt", "sel_retn_cnt", "purc_retn_cnt", "inv_cnt", "pric",
                           "finl_trns_pric", "inv_chg_type", "inv_data_type"})
# What a row takes from the catalog (the item's 医保 code, its code, name, maker, 批准文号, class): corrected in the
# catalog (a mapping change with its second person, CARD-07), then the row derived again from it — never typed
# into one row, where the next row of the item would carry the old value.
CATALOG_FIELDS = frozenset({"med_list_codg", "fixmedins_hilist_id", "fixmedins_hilist_name", "prdr_name", "aprvno",
                            "rx_flag"})


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the centre has not accepted of one transaction: how many rows, how many rejected, the oldest's age."""

    txn: str
    count: int
    rejected: int
    age_hours: float

    def as_dict(self) -> dict[str, Any]:
        return {"txn": self.txn, "count": self.count, "rejected": self.rejected, "age_hours": round(self.age_hours, 2)}


def backlog_refusals(backlog: Sequence[Backlog], max_hours: int) -> list[Violation]:
    """A transaction whose oldest unaccepted row is older than `max_hours` (the checklist's failure)."""
    return [Violation(RULE, f"{b.txn} 有 {b.count} 条未被中心接收（其中被拒 {b.rejected} 条），最早已 {b.age_hours:.1f} 小时，"
                            f"超过 {max_hours} 小时", f"{b.count} {b.txn} upload(s) not accepted ({b.rejected} rejected), "
                            f"the oldest {b.age_hours:.1f} h old: over {max_hours} h",
                      {"txn": b.txn, "count": b.count, "rejected": b.rejected, "age_hours": round(b.age_hours, 2),
                       "max_hours": max_hours})
            for b in backlog if b.age_hours > max_hours]


def month_refusals(first: date, last: date, unaccepted: Sequence[tuple[str, int, int]]) -> list[Violation]:
    """The month (first..last) cannot close while any of its facts is not accepted: one per transaction
    (txn, rows not accepted, of them rejected)."""
    return [Violation(RULE, f"{first:%Y-%m} 的 {txn} 上传尚有 {n} 条未被中心接收（被拒 {rejected} 条），不能结账",
                      f"{n} {txn} upload(s) of {first:%Y-%m} not accepted by the centre ({rejected} rejected): "
                      "the month cannot close", {"txn": txn, "count": n, "rejected": rejected,
                                                 "from": first.isoformat(), "to": last.isoformat()})
            for txn, n, rejected in unaccepted if n]
