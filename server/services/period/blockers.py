"""What keeps a month from closing (ST-01): anything in it left half done.

A registry of blockers, each `(unit, store_id, first_day, last_day) -> [Violation]`, asked in turn by the
close; each names what it found with how many and the first few. This wing registers its own four (receipts
not approved, counts not posted, sales not finished, card settlements not resolved); other wings register
theirs at import (the uploads outbox: unacknowledged uploads; the reconciliation: an unbalanced day) with
`register` — the close needs no change for them.

`first_day` is the day after the last closed one (or the earliest date, for a store's first close): a month
closes everything on or before its last day, so whatever is open from before counts too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from catalog.violations import Violation
from server.db.models import CardSettlement, Receipt, Sale, SaleStatus, SettlementStatus, Store
from server.db.models.base import table_of
from server.db.models.care import CountSheet
from server.db.uow import Reader

Blocker = Callable[[Reader, int, date, date], list[Violation]]

_REGISTRY: dict[str, Blocker] = {}
FEW = 5  # how many of the offenders a refusal names


def register(name: str, blocker: Blocker) -> Blocker:
    """Adds (or replaces, by name) a blocker the close asks; returns it (usable as a decorator's body)."""
    _REGISTRY[name] = blocker
    return blocker


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered() -> list[str]:
    return list(_REGISTRY)


def blocking(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    """Every registered blocker's violations, in the order they were registered."""
    out: list[Violation] = []
    for blocker in list(_REGISTRY.values()):
        out.extend(blocker(u, store_id, first_day, last_day))
    return out


def named(what_zh: str, what_en: str, ids: Sequence[Any], total: int, rule: str = "ST-01") -> list[Violation]:
    """The refusal for `total` things of one kind, naming the first FEW: for a blocker of any wing."""
    if not total:
        return []
    first = ", ".join(str(i) for i in ids[:FEW]) + (" …" if total > FEW else "")
    return [Violation(rule, f"本期有 {total} 张{what_zh}，不能月结：{first}", f"{total} {what_en} in the period: {first}",
                      {"count": total, "first": [str(i) for i in ids[:FEW]]})]


def _listed(u: Reader, query: sa.Select[Any]) -> tuple[list[Any], int]:
    rows = list(u.connection().execute(query.limit(FEW)).scalars())
    if len(rows) < FEW:
        return rows, len(rows)
    total = u.connection().execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar()
    return rows, int(total or 0)


_RECEIPT, _COUNT, _SALE, _SETL, _STORE = (table_of(m) for m in (Receipt, CountSheet, Sale, CardSettlement, Store))


def _end_instant(u: Reader, store_id: int, last_day: date) -> datetime:
    """The first instant after the store's last_day ends, in UTC (a sale's opening is a time, not a date)."""
    zone = u.connection().execute(sa.select(_STORE.c.timezone).where(_STORE.c.id == store_id)).scalar()
    tz = ZoneInfo(zone or "Asia/Shanghai")
    return datetime.combine(last_day + timedelta(days=1), time(0), tz).astimezone(UTC)


def unapproved_receipts(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    r = _RECEIPT.c
    q = (sa.select(r.id).where(r.store_id == store_id, r.status != "approved", r.business_date >= first_day,
                               r.business_date <= last_day).order_by(r.id))
    ids, total = _listed(u, q)
    return named("未审核的入库单", "receipts not approved", [f"#{i}" for i in ids], total)


def unposted_counts(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    c = _COUNT.c
    q = (sa.select(c.id).where(c.store_id == store_id, c.status != "posted", c.business_date >= first_day,
                               c.business_date <= last_day).order_by(c.id))
    ids, total = _listed(u, q)
    return named("未过账的盘点单", "count sheets not posted", [f"#{i}" for i in ids], total)


_UNFINISHED = (SaleStatus.OPEN.value, SaleStatus.SUSPENDED.value, SaleStatus.SETTLING.value)


def open_sales(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    s = _SALE.c
    q = (sa.select(s.id).where(s.store_id == store_id, s.status.in_(_UNFINISHED),
                               s.opened_at < _end_instant(u, store_id, last_day)).order_by(s.opened_at, s.id))
    ids, total = _listed(u, q)
    return named("未完成的销售（未付款/挂单/结算中）", "sales not finished (open, suspended or settling)", ids, total)


_UNRESOLVED = (SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value)


def unresolved_settlements(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    st = _SETL.c
    q = (sa.select(st.id).where(st.store_id == store_id, st.status.in_(_UNRESOLVED),
                                st.created_at < _end_instant(u, store_id, last_day)).order_by(st.id))
    ids, total = _listed(u, q)
    return named("未确认的医保结算（待发送/结果不明）", "card settlements unresolved (intent or uncertain)",
                 [f"#{i}" for i in ids], total)


for _name, _blocker in (("receipts", unapproved_receipts), ("counts", unposted_counts), ("sales", open_sales),
                        ("settlements", unresolved_settlements)):
    register(_name, _blocker)

# The reconciliation with the centre (ST-07, issue #21): a month closes only once every day of it is 平, or its
# difference acknowledged. Wired here, not by the recon wing at its import, so the command line's close asks it too.
from server.services.recon.blockers import month_blockers as _month_blockers  # noqa: E402

_FIRST_SETTLEMENT_ERA = date(2000, 1, 1)  # a store's first close starts at date.min: no card settled before this


def _reconciliation(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    return _month_blockers(u, store_id, max(first_day, _FIRST_SETTLEMENT_ERA), last_day)  # type: ignore[arg-type]


register("reconciliation", _reconciliation)

# The uploads (3501–3507, ST-06, issue #21): a month closes only once the centre accepted every fact of it.
from server.services.insurance.uploads import month_blockers as _uploads  # noqa: E402

register("uploads", _uploads)
