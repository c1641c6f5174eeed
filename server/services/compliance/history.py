"""The checklist's history (issue #22): the runs kept in checklist_run, newest first, each with its counts and what
changed against the run before it of the same period — what the manager reads to see what moved since last time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from server.db.models import ChecklistRun
from server.db.models.base import id_of
from server.db.uow import read_session

VERDICTS = ("pass", "fail", "manual")


@dataclass(frozen=True)
class PastRun:
    id: int
    first: date
    last: date
    at: datetime
    run_by: str
    verdicts: dict[int, str]  # item no -> pass | fail | manual
    changes: dict[int, tuple[str, str]]  # against the run before it of the same period: no -> (then, now)

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts.values() if v == verdict)

    @property
    def failed(self) -> list[int]:
        return sorted(no for no, v in self.verdicts.items() if v == "fail")


def runs(engine: Engine, store_id: int, first: date | None = None, last: date | None = None,
         limit: int = 50) -> list[PastRun]:
    """The store's runs, newest first: of the period [first, last] when given, else of every period (at most
    `limit`); each compared with the run of its period just before it."""
    with read_session(engine) as s:
        q = select(ChecklistRun).where(ChecklistRun.store_id == store_id)
        if first is not None:
            q = q.where(ChecklistRun.first == first)
        if last is not None:
            q = q.where(ChecklistRun.last == last)
        rows = list(s.exec(q.order_by(col(ChecklistRun.id).desc()).limit(limit)))
        # the run before the oldest shown of each period, so its changes are said too
        periods = {(r.first, r.last) for r in rows}
        oldest = min((id_of(r) for r in rows), default=0)
        before = {} if not rows else {
            (r.first, r.last): r for r in s.exec(
                select(ChecklistRun).where(ChecklistRun.store_id == store_id, col(ChecklistRun.id) < oldest)
                .order_by(col(ChecklistRun.id)))
            if (r.first, r.last) in periods}
    out: list[PastRun] = []
    later: dict[tuple[date, date], PastRun] = {}
    for r in reversed(rows):  # oldest first: each run compared with the one before it of its period
        now = {int(k): str(v) for k, v in r.verdicts.items()}
        prev = later.get((r.first, r.last))
        then = prev.verdicts if prev else {int(k): str(v) for k, v in getattr(before.get((r.first, r.last)),
                                                                            "verdicts", {}).items()}
        run = PastRun(id_of(r), r.first, r.last, r.at, r.run_by, now,
                      {no: (then[no], v) for no, v in sorted(now.items()) if no in then and then[no] != v})
        later[(r.first, r.last)] = run
        out.append(run)
    return out[::-1]
