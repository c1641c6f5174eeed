"""The print queue's guard after migration 0015: a job a crash cut off (uncertain) may only be resolved by the
cashier's decision, and resolved is final — at the database, on SQLite and PostgreSQL alike (ST-02)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from server import audit
from server.db.models import PrintJobKind
from server.db.uow import core_unit, read_session
from server.services import printing
from server.services.context import Ctx


def _job(engine: Engine, ctx: Ctx, till: str = "T01") -> int:
    with core_unit(engine) as u:
        return int(printing.add_job(u, ctx, till, PrintJobKind.Z_REPORT, "1", {"shift_id": 1}).id)


def _set(engine: Engine, job_id: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE print_job SET status = :s WHERE id = :i"), {"s": status, "i": job_id})


def _status(engine: Engine, job_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT status FROM print_job WHERE id = :i"), {"i": job_id}).scalar())


@pytest.mark.refuses("ST-02")
def test_an_uncertain_job_is_only_resolved_and_resolved_is_final(engine: Engine, ctx: Ctx) -> None:
    cut, other = _job(engine, ctx), _job(engine, ctx)
    _set(engine, cut, "printing")  # claimed, and then the service died
    with core_unit(engine) as u:
        assert printing.recover_interrupted(u, ctx, "T01") == 1  # the next start
    assert _status(engine, cut) == "uncertain"
    for walk_around in ("pending", "printed", "printing"):  # sent again unmarked, or called printed
        with pytest.raises(IntegrityError, match="print_job"):
            _set(engine, cut, walk_around)
    with pytest.raises(IntegrityError, match="print_job"):  # only an uncertain job is resolved
        _set(engine, other, "resolved")
    with core_unit(engine) as u:
        resolved, again = printing.resolve(u, ctx, cut, reprint=True)
    assert resolved.status == "resolved" and again is not None and again.reprint and again.document["reprint"]
    for walk_around in ("uncertain", "pending"):
        with pytest.raises(IntegrityError, match="print_job"):
            _set(engine, cut, walk_around)
    assert _status(engine, cut) == "resolved" and _status(engine, other) == "pending"
    with read_session(engine) as s:
        assert audit.verify(s, ctx.store_id).ok
