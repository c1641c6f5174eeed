"""The month-close seam (ST-07): what keeps a month from closing on the reconciliation's account.

`month_blockers(u, store_id, first_day, last_day)` — the close (another wing) calls it and refuses with the
violations it returns: a day × clearing group whose settlements were never reconciled, changed since, or came out
不平 without the 医保 administrator's acknowledgment. Only a daily run of that very day and group counts: a balanced
month run, or a later day's, hides nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from catalog.violations import Violation
from server.db.models import CardSettlement, Store
from server.db.models import SettlementStatus as S
from server.db.models.base import table_of
from server.db.models.recon import run_figures
from server.db.uow import Unit
from server.insurance.clearing import ClearingGroup
from server.rules.recon import DayGroup, LatestRun, month_refusals, unresolved_refusals
from server.services.recon import books, runs

_STORE, _SETL = table_of(Store), table_of(CardSettlement)


def _group(r: Any) -> ClearingGroup:
    return ClearingGroup(r.insutype, r.clr_type, r.clr_optins, bool(r.away))


def day_groups(u: Unit, store_id: int, first_day: date, last_day: date, every_policy: bool = False) -> list[DayGroup]:
    """Each day × group with settlements or daily runs in [first_day, last_day], as the rules judge it: by its latest
    run; `every_policy`: by the latest run under each refund policy it was ever run with — a refund on one side only
    is not hidden by running the day again with refunds left out."""
    store = u.connection().execute(sa.select(_STORE.c.admdvs, _STORE.c.timezone)
                                   .where(_STORE.c.id == store_id)).one()
    ours = books.booked(u, store_id, ZoneInfo(store.timezone), store.admdvs, first_day, last_day)
    by_key: dict[tuple[date, ClearingGroup], list[books.Booked]] = defaultdict(list)
    for b in ours:
        by_key[(b.day, b.group)].append(b)
    daily = [r for r in runs.runs_between(u, store_id, first_day, last_day, "day") if r.stmt_begndate == r.stmt_enddate]
    latest: dict[tuple[date, ClearingGroup], dict[str, Any]] = defaultdict(dict)  # key -> policy -> its latest run
    history: dict[tuple[date, ClearingGroup], list[Any]] = defaultdict(list)
    for r in daily:  # oldest first: the last one stands
        key = (r.stmt_begndate, _group(r))
        latest[key].pop(r.refd_setl_flag, None)  # re-inserted last: the dict's last value is the latest overall
        latest[key][r.refd_setl_flag] = r
        history[key].append(r)
    acks = runs.acks_of(u, [r.id for r in daily])
    out: list[DayGroup] = []
    for key in sorted(set(by_key) | set(latest)):
        standing = list(latest[key].values()) if key in latest else []
        if not standing:
            t = books.totals(books.counted(by_key[key], books.REFUNDS_INCLUDED))
            out.append(DayGroup(key[0], key[1].label_zh, tuple(b.setl_id for b in by_key[key]), t.figures(), None))
            continue
        for run in (standing if every_policy else standing[-1:]):
            counted = books.counted(by_key[key], run.refd_setl_flag)
            figures = run_figures(run)
            acked = any(acks[h.id] and run_figures(h) == figures for h in history[key])
            out.append(DayGroup(key[0], key[1].label_zh, tuple(b.setl_id for b in counted),
                                books.totals(counted).figures(),
                                LatestRun(run.id, run.result, run.result_dscr, tuple(run.setl_ids or ()), figures[:5],
                                          acked)))
    return out


def unresolved(u: Unit, store_id: int, first_day: date, last_day: date) -> list[str]:
    """The msgids of settlements begun in the period whose outcome is still unknown (intent, uncertain): the centre
    may hold them, our books do not yet say (server.services.card.settle.resolve decides them by 2601)."""
    store = u.connection().execute(sa.select(_STORE.c.timezone).where(_STORE.c.id == store_id)).one()
    tz = ZoneInfo(store.timezone)
    lo, hi = datetime.combine(first_day, time(), tz), datetime.combine(last_day + timedelta(days=1), time(), tz)
    q = (sa.select(_SETL.c.msgid).where(_SETL.c.store_id == store_id, _SETL.c.created_at >= lo, _SETL.c.created_at < hi,
                                        _SETL.c.status.in_([S.INTENT.value, S.UNCERTAIN.value]))
         .order_by(_SETL.c.id))
    return list(u.connection().execute(q).scalars())


def month_blockers(u: Unit, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    """ST-07: the reasons the period [first_day, last_day] may not close (empty: the reconciliation allows it)."""
    return unresolved_refusals(unresolved(u, store_id, first_day, last_day)) + month_refusals(
        day_groups(u, store_id, first_day, last_day, every_policy=True))
