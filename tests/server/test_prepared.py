"""Prepared statements (server.db.prepared): the same values in and out as SQLAlchemy Core's own execution,
on both backends, inside the caller's transaction; statements it cannot run faithfully are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from server.db.models import Batch, Item, PrintJob, SaleLine
from server.db.prepared import Prepared
from server.db.session import read_session, write_session
from server.services.context import Ctx
from tests.conftest import seed_shop

_JOB = PrintJob.__table__  # type: ignore[attr-defined]
_JOB_KEYS = ("store_id", "till_code", "kind", "ref", "reprint", "document", "status", "attempts", "last_error",
             "created_by", "created_at", "expires_at")
ADD_JOB = Prepared(sa.insert(_JOB).returning(_JOB.c.id), _JOB_KEYS)
JOB = Prepared(sa.select(_JOB).where(_JOB.c.id == sa.bindparam("id")))


def test_values_go_in_and_come_out_as_core_writes_and_reads_them(engine: Engine, ctx: Ctx) -> None:
    at = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
    values = {"store_id": ctx.store_id, "till_code": "T01", "kind": "receipt", "ref": "x", "reprint": True,
              "document": {"名称": "维生素C", "lines": [1, 2]}, "status": "pending", "attempts": 0, "last_error": "",
              "created_by": None, "created_at": at, "expires_at": at + timedelta(minutes=2)}
    with write_session(engine) as s:
        conn = s.connection()
        mine = ADD_JOB.scalar(conn, values)
        core = conn.execute(sa.insert(_JOB).returning(_JOB.c.id), values).scalar_one()
        ours = JOB.first(conn, {"id": mine})  # read inside the transaction that wrote it
    with read_session(engine) as s:
        conn = s.connection()
        theirs = conn.execute(sa.select(_JOB).where(_JOB.c.id == core)).one()
        again = JOB.first(conn, {"id": core})
    assert ours._asdict() | {"id": 0} == theirs._asdict() | {"id": 0} == again._asdict() | {"id": 0}
    assert ours.created_at == at and ours.created_at.tzinfo is not None  # aware, as the model hands it back
    assert ours.reprint is True and ours.document == {"名称": "维生素C", "lines": [1, 2]} and ours.claimed_at is None


def test_literals_dates_and_rowcounts(engine: Engine, ctx: Ctx) -> None:
    seed_shop(engine, ctx)
    batch = Batch.__table__  # type: ignore[attr-defined]
    fresh = Prepared(sa.select(sa.func.count()).select_from(batch)
                     .where(batch.c.expires_on >= sa.bindparam("today"), batch.c.status != "stopped"))
    stop = Prepared(sa.update(batch).where(batch.c.expires_on < sa.bindparam("today")).values(status="stopped"))
    with write_session(engine) as s:
        conn = s.connection()
        core = conn.execute(sa.select(sa.func.count()).select_from(batch).where(
            batch.c.expires_on >= date.today(), batch.c.status != "stopped")).scalar_one()
        assert fresh.scalar(conn, {"today": date.today()}) == core > 0
        expired = conn.execute(sa.select(sa.func.count()).select_from(batch).where(
            batch.c.expires_on < date.today())).scalar_one()
        assert stop.run(conn, {"today": date.today()}) == expired
        s.rollback()


def test_a_failed_unit_of_work_takes_the_prepared_writes_with_it(engine: Engine, ctx: Ctx) -> None:
    with pytest.raises(RuntimeError), write_session(engine) as s:
        ADD_JOB.run(s.connection(), {"store_id": ctx.store_id, "till_code": "T01", "kind": "receipt", "ref": "gone",
                                     "reprint": False, "document": {}, "status": "pending", "attempts": 0,
                                     "last_error": "", "created_by": None, "created_at": ctx.now, "expires_at": None})
        raise RuntimeError("the use case refused after writing")
    with read_session(engine) as s:
        assert s.connection().execute(sa.select(_JOB.c.id).where(_JOB.c.ref == "gone")).first() is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_statements_it_cannot_run_faithfully_are_refused(engine: Engine) -> None:
    line = SaleLine.__table__  # type: ignore[attr-defined]
    item = Item.__table__  # type: ignore[attr-defined]
    with read_session(engine) as s:
        conn = s.connection()
        with pytest.raises(ValueError, match="split"):  # defaults computed per execution must be given
            Prepared(sa.insert(line), ["store_id", "sale_id"]).run(conn, {"store_id": 1, "sale_id": "x"})
        with pytest.raises(ValueError, match="rendered at execution"):  # an expanding IN list
            Prepared(sa.select(item.c.id).where(item.c.id.in_(sa.bindparam("ids", expanding=True)))).rows(
                conn, {"ids": [1, 2]})
