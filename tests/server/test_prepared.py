"""Prepared statements (server.db.prepared): the same values in and out as SQLAlchemy Core's own execution,
on both backends, inside the caller's transaction; statements it cannot run faithfully are refused. And the
units of work made for them: the event loop's (loop_unit) and the worker's (core_unit)."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import col, select

from server.config import Settings
from server.db import sqlite as db_sqlite
from server.db import uow as db_uow
from server.db.engine import make_engine
from server.db.models import Batch, Item, PrintJob, SaleLine, Supplier
from server.db.models.base import table_of
from server.db.prepared import Prepared, PreparedIn
from server.db.sqlite import BUSY_TIMEOUT_MS, WAL_AUTOCHECKPOINT_PAGES, loop_may_wait
from server.db.uow import NotOnLoop, Unit, WriterBusy, core_unit, loop_read, loop_unit, orm, read_session, read_unit
from server.services import printing
from server.services.context import Ctx
from tests.conftest import Clock, seed_shop, sqlite_file

_JOB = table_of(PrintJob)
_JOB_KEYS = ("store_id", "till_code", "kind", "ref", "reprint", "document", "status", "attempts", "last_error",
             "created_by", "created_at", "expires_at")
ADD_JOB = Prepared(sa.insert(_JOB).returning(_JOB.c.id), _JOB_KEYS)
JOB = Prepared(sa.select(_JOB).where(_JOB.c.id == sa.bindparam("id")))
JOB_ID_BY_REF = Prepared(sa.select(_JOB.c.id).where(_JOB.c.ref == sa.bindparam("ref")))


def test_values_go_in_and_come_out_as_core_writes_and_reads_them(engine: Engine, ctx: Ctx) -> None:
    at = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
    values = {"store_id": ctx.store_id, "till_code": "T01", "kind": "receipt", "ref": "x", "reprint": True,
              "document": {"名称": "维生素C", "lines": [1, 2]}, "status": "pending", "attempts": 0, "last_error": "",
              "created_by": None, "created_at": at, "expires_at": at + timedelta(minutes=2)}
    with core_unit(engine) as u:
        conn = u.connection()
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


@pytest.mark.business_day
def test_literals_dates_and_rowcounts(engine: Engine, ctx: Ctx, clock: Clock) -> None:
    seed_shop(engine, ctx)
    today = clock.today
    batch = table_of(Batch)
    fresh = Prepared(sa.select(sa.func.count()).select_from(batch)
                     .where(batch.c.expires_on >= sa.bindparam("today"), batch.c.status != "stopped"))
    stop = Prepared(sa.update(batch).where(batch.c.expires_on < sa.bindparam("today")).values(status="stopped"))
    with pytest.raises(RuntimeError, match="undone"), core_unit(engine) as u:
        conn = u.connection()
        core = conn.execute(sa.select(sa.func.count()).select_from(batch).where(
            batch.c.expires_on >= today, batch.c.status != "stopped")).scalar_one()
        assert fresh.scalar(conn, {"today": today}) == core > 0
        expired = conn.execute(sa.select(sa.func.count()).select_from(batch).where(
            batch.c.expires_on < today)).scalar_one()
        assert stop.run(conn, {"today": today}) == expired == 1  # the mask's batch that expired yesterday
        raise RuntimeError("undone: the batches stay as the shop has them")


def _job_values(ctx: Ctx, ref: str) -> dict[str, Any]:
    return {"store_id": ctx.store_id, "till_code": "T01", "kind": "receipt", "ref": ref, "reprint": False,
            "document": {}, "status": "pending", "attempts": 0, "last_error": "", "created_by": None,
            "created_at": ctx.now, "expires_at": None}


def _sqlite(conn: sa.Connection) -> sqlite3.Connection:
    """The driver's own connection under SQLAlchemy's: these tests read SQLite's transaction state and pragmas."""
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def test_a_failed_unit_of_work_takes_the_prepared_writes_with_it(engine: Engine, ctx: Ctx) -> None:
    with pytest.raises(RuntimeError), core_unit(engine) as u:
        ADD_JOB.run(u.connection(), _job_values(ctx, "gone"))
        raise RuntimeError("the use case refused after writing")
    with read_session(engine) as s:
        assert s.connection().execute(sa.select(_JOB.c.id).where(_JOB.c.ref == "gone")).first() is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_statements_it_cannot_run_faithfully_are_refused(engine: Engine) -> None:
    line = table_of(SaleLine)
    item = table_of(Item)
    with read_session(engine) as s:
        conn = s.connection()
        with pytest.raises(ValueError, match="split"):  # defaults computed per execution must be given
            Prepared(sa.insert(line), ["store_id", "sale_id"]).run(conn, {"store_id": 1, "sale_id": "x"})
        with pytest.raises(ValueError, match="rendered at execution"):  # an expanding IN list
            Prepared(sa.select(item.c.id).where(item.c.id.in_(sa.bindparam("ids", expanding=True)))).rows(
                conn, {"ids": [1, 2]})
        with pytest.raises(ValueError, match="computed per execution"):  # a value SQLAlchemy calls each time
            Prepared(sa.select(item.c.id).where(item.c.id == sa.bindparam("n", callable_=lambda: 1))).rows(conn, {})


def test_a_list_of_any_length_reads_as_an_expanding_in_list_does(engine: Engine, ctx: Ctx) -> None:
    """PreparedIn: one bind per value, compiled for a few lengths, a list padded with its last value or run in
    chunks — the same rows as SQLAlchemy's own expanding IN, whatever the length, on both backends."""
    with core_unit(engine) as u:
        ADD_JOB.run_many(u.connection(), [_job_values(ctx, f"in-{n}") for n in range(250)])
    with read_session(engine) as s:
        ids = list(s.connection().execute(sa.select(_JOB.c.id).where(_JOB.c.ref.like("in-%"))).scalars())
    assert len(ids) == 250
    by_list = PreparedIn(lambda binds: sa.select(_JOB.c.id, _JOB.c.ref, _JOB.c.reprint)
                         .where(_JOB.c.store_id == sa.bindparam("sid"), _JOB.c.id.in_(binds)))
    with read_session(engine) as s:
        conn = s.connection()

        def core(values: list[int], sid: int = ctx.store_id) -> list[tuple[object, ...]]:
            if not values:
                return []
            rows = conn.execute(sa.select(_JOB.c.id, _JOB.c.ref, _JOB.c.reprint)
                                .where(_JOB.c.store_id == sid, _JOB.c.id.in_(values)))
            return sorted(tuple(r) for r in rows)

        for n in (0, 1, 2, 4, 5, 19, 20, 21, 99, 100, 101, 250):
            chosen = ids[::-1][:n]  # not in the table's order
            got = sorted(tuple(r) for r in by_list.rows(conn, chosen, {"sid": ctx.store_id}))
            assert got == core(chosen) and len(got) == n, n
        # a value listed twice, or one matching nothing, reads no row more; the other parameters still apply
        assert sorted(r.id for r in by_list.rows(conn, [ids[0], ids[0], -1], {"sid": ctx.store_id})) == [ids[0]]
        assert by_list.rows(conn, ids[:3], {"sid": ctx.store_id + 1000}) == []
        assert type(by_list.rows(conn, ids[:1], {"sid": ctx.store_id})[0].reprint) is bool  # the types' processors


def test_a_driver_error_arrives_as_sqlalchemys_and_takes_nothing_with_it(engine: Engine, ctx: Ctx) -> None:
    values = _job_values(ctx, "orphan") | {"store_id": ctx.store_id + 1000}  # no such store
    with pytest.raises(sa.exc.IntegrityError), core_unit(engine) as u:
        ADD_JOB.run(u.connection(), values)
    with pytest.raises(sa.exc.IntegrityError), core_unit(engine) as u:
        ADD_JOB.run_many(u.connection(), [values])
    with read_session(engine) as s:
        assert s.connection().execute(sa.select(_JOB.c.id).where(_JOB.c.ref == "orphan")).first() is None


# --- loop_unit: the event loop's unit of work (SQLite) -----------------------------------------------

def _pragmas(engine: Engine) -> tuple[int, int]:
    with read_session(engine) as s:
        conn = s.connection()
        return (conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one(),
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_loops_settings_stay_on_its_own_connection(settings: Settings) -> None:
    one = make_engine(settings.database.url, pool_size=1, max_overflow=0)  # the pool: one connection
    try:
        assert _pragmas(one) == (BUSY_TIMEOUT_MS, WAL_AUTOCHECKPOINT_PAGES)
        seen = []
        for _ in range(2):  # the same connection each time, still set up as the loop needs it
            with loop_unit(one) as u:
                conn = u.connection()
                # inside: no waiting for another process's lock, no checkpoint on the event loop, no fsync
                raw = _sqlite(conn)
                seen.append(raw)
                assert raw.in_transaction  # BEGIN IMMEDIATE, ours
                assert raw.execute("PRAGMA busy_timeout").fetchone() == (0,)
                assert raw.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
                assert raw.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert seen[0] is seen[1] and not seen[0].in_transaction
        assert _pragmas(one) == (BUSY_TIMEOUT_MS, WAL_AUTOCHECKPOINT_PAGES)  # the pool's connection untouched
        with core_unit(one) as u:  # and a durable commit made through the pool is FULL
            assert u.connection().exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
    finally:
        one.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # disposing of the engine closed the loop's connection too
        seen[0].execute("SELECT 1")
    try:  # and the next unit of work opens another
        with loop_unit(one) as u:
            assert u.connection().connection.dbapi_connection is not seen[0]
    finally:
        one.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_loops_unit_of_work_needs_no_pool_connection(settings: Settings, ctx: Ctx) -> None:
    one = make_engine(settings.database.url, pool_size=1, max_overflow=0, pool_timeout=5)
    try:
        with read_session(one) as reading:
            reading.connection()  # the pool's only connection is in use
            t0 = time.perf_counter()
            with loop_unit(one) as u:
                ADD_JOB.run(u.connection(), _job_values(ctx, "from the loop"))
            assert time.perf_counter() - t0 < 2.5  # not after the pool's 5 s timeout
        with read_session(one) as s:
            assert s.connection().execute(sa.select(_JOB.c.id).where(_JOB.c.ref == "from the loop")).first()
    finally:
        one.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_loops_unit_of_work_commits_or_writes_nothing(engine: Engine, ctx: Ctx) -> None:
    memory = make_engine("sqlite://")
    try:
        with pytest.raises(NotOnLoop), loop_unit(engine) as u:
            ADD_JOB.run(u.connection(), _job_values(ctx, "needs the orm"))
            orm(u)  # a path that needs the ORM: done again in a worker, nothing kept from here
        with pytest.raises(sa.exc.IntegrityError), loop_unit(engine) as u:  # SQLAlchemy's error, nothing kept
            ADD_JOB.run(u.connection(), _job_values(ctx, "orphan") | {"store_id": ctx.store_id + 1000})
        with loop_unit(engine) as u:
            ADD_JOB.run(u.connection(), _job_values(ctx, "kept"))
        with read_session(engine) as s:
            refs = s.connection().execute(sa.select(_JOB.c.ref).where(_JOB.c.ref.in_(["needs the orm", "orphan", "kept"])))
            assert refs.scalars().all() == ["kept"]
        with pytest.raises(WriterBusy), loop_unit(memory):
            pass  # a second connection to ":memory:" is another database: the worker thread's path
    finally:
        memory.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_loops_unit_of_work_never_waits_for_the_lock(engine: Engine, ctx: Ctx) -> None:
    other = sqlite3.connect(sqlite_file(engine), isolation_level=None)  # another process, e.g. a CLI command
    try:
        other.execute("BEGIN IMMEDIATE")  # SQLite's writer lock held
        t0 = time.perf_counter()
        with pytest.raises(WriterBusy), loop_unit(engine) as u:
            ADD_JOB.run(u.connection(), _job_values(ctx, "never"))
        assert time.perf_counter() - t0 < 5  # at once, not after the 30 s busy timeout
        other.execute("ROLLBACK")
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:  # a worker thread of this service in the middle of a unit of work
            with core_unit(engine):
                holding.set()
                release.wait(10)

        worker = threading.Thread(target=hold)
        worker.start()
        try:
            assert holding.wait(10)
            with pytest.raises(WriterBusy), loop_unit(engine):
                pass
        finally:
            release.set()
            worker.join()
        with loop_unit(engine) as u:  # free again: taken
            ADD_JOB.run(u.connection(), _job_values(ctx, "now"))
    finally:
        other.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_units_of_work_do_not_nest_into_the_loops(engine: Engine, ctx: Ctx) -> None:
    """The writer's lock is re-entrant: what it would let through on one thread is refused here instead."""
    with core_unit(engine) as u:  # a loop unit inside a unit of work of the same thread: not taken
        ADD_JOB.run(u.connection(), _job_values(ctx, "outer session"))
        with pytest.raises(WriterBusy), loop_unit(engine):
            pass
    with loop_unit(engine) as u:
        ADD_JOB.run(u.connection(), _job_values(ctx, "outer loop"))
        with pytest.raises(WriterBusy), loop_unit(engine):  # nor one inside another: the outer stays whole
            pass
        ADD_JOB.run(u.connection(), _job_values(ctx, "outer loop, after"))
    with pytest.raises(RuntimeError), loop_unit(engine) as u:  # a unit that may wait, inside the loop's
        ADD_JOB.run(u.connection(), _job_values(ctx, "undone"))
        with core_unit(engine):
            pass
    with pytest.raises(NotOnLoop), loop_unit(engine) as u:  # SQLAlchemy's own execution: a worker's work
        ADD_JOB.run(u.connection(), _job_values(ctx, "undone"))
        u.connection().execute(sa.select(_JOB.c.id))
    with loop_unit(engine) as u:  # and the loop's connection is as good as before
        ADD_JOB.run(u.connection(), _job_values(ctx, "last"))
    with read_session(engine) as s:
        refs = s.connection().execute(sa.select(_JOB.c.ref).where(_JOB.c.till_code == "T01").order_by(_JOB.c.id))
        assert [r for r in refs.scalars() if r in {"outer session", "outer loop", "outer loop, after", "undone",
                                                  "last"}] == ["outer session", "outer loop", "outer loop, after",
                                                               "last"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_read_on_the_loop_never_waits_and_never_writes(engine: Engine, ctx: Ctx) -> None:
    """loop_read: the loop's own reading connection, in one read transaction, beside the writer: another process
    in the middle of a write, or a worker thread of this service inside its unit of work, does not hold it up."""
    refs = Prepared(sa.select(_JOB.c.ref).where(_JOB.c.ref.like("read-%")).order_by(_JOB.c.id))
    memory = make_engine("sqlite://")
    with core_unit(engine) as u:
        ADD_JOB.run(u.connection(), _job_values(ctx, "read-committed"))
    other = sqlite3.connect(sqlite_file(engine), isolation_level=None)  # another process, e.g. a CLI command
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # a worker thread of this service in the middle of a unit of work
        with core_unit(engine):
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    try:
        other.execute("BEGIN IMMEDIATE")
        # (a row added, not the committed one changed: the print queue's rows refuse that, migration 0011)
        other.execute("INSERT INTO print_job (store_id, till_code, kind, ref, reprint, document, status, attempts, "
                      "last_error, created_at) SELECT store_id, till_code, kind, 'read-uncommitted', reprint, document, "
                      "status, attempts, last_error, created_at FROM print_job WHERE ref = 'read-committed'")
        t0 = time.perf_counter()
        with loop_read(engine) as s:
            raw = _sqlite(s.connection())
            assert raw.in_transaction and [r.ref for r in refs.rows(s.connection(), {})] == ["read-committed"]
            assert raw.execute("PRAGMA busy_timeout").fetchone() == (0,)
            assert raw.execute("PRAGMA query_only").fetchone() == (1,)
        assert time.perf_counter() - t0 < 5 and not raw.in_transaction  # at once, and the transaction ended
        other.execute("COMMIT")
        worker.start()
        assert holding.wait(10)
        with loop_read(engine) as s:  # the writer's lock taken in this process: a read needs none
            assert [r.ref for r in refs.rows(s.connection(), {})] == ["read-committed", "read-uncommitted"]
            assert s.connection().connection.dbapi_connection is raw  # the same connection, kept for the loop
        release.set()
        worker.join()
        with pytest.raises(sa.exc.OperationalError, match="readonly"), loop_read(engine) as s:
            ADD_JOB.run(s.connection(), _job_values(ctx, "read-written"))  # query_only: nothing written through it
        with pytest.raises(NotOnLoop), loop_read(engine) as s:
            orm(s)  # a path that needs the ORM: a worker's read
        with pytest.raises(NotOnLoop), loop_read(engine) as s:  # SQLAlchemy's own execution: a worker's too
            s.connection().execute(sa.select(_JOB.c.id))
        with loop_read(engine) as s:  # and the connection is as good as before
            assert [r.ref for r in refs.rows(s.connection(), {})] == ["read-committed", "read-uncommitted"]
        with pytest.raises(WriterBusy), loop_read(memory):
            pass  # a second connection to ":memory:" is another database: the worker thread's read
    finally:
        release.set()
        if worker.is_alive():
            worker.join()
        other.close()
        memory.dispose()


def test_a_read_unit_sees_one_snapshot_and_writes_nothing(engine: Engine, ctx: Ctx) -> None:
    with read_unit(engine) as u:
        conn = u.connection()
        ADD_JOB.run(conn, _job_values(ctx, "in a read"))  # not refused (a read_unit is not the loop's) but not kept
        assert JOB.first(conn, {"id": JOB_ID_BY_REF.scalar(conn, {"ref": "in a read"})}) is not None
    with read_unit(engine) as u:
        assert JOB_ID_BY_REF.scalar(u.connection(), {"ref": "in a read"}) is None


# --- core_unit: a worker's unit of work for prepared statements, its Session made on first ask --------

def _refs(engine: Engine, *refs: str) -> list[str]:
    with read_session(engine) as s:
        rows = s.connection().execute(sa.select(_JOB.c.ref).where(_JOB.c.ref.in_(refs)).order_by(_JOB.c.id))
        return list(rows.scalars())


def _supplier(ctx: Ctx, name: str, store_id: int | None = None) -> Supplier:
    """A reference row the ORM writes (the print queue, a ledger, refuses ORM writes: server.db.uow)."""
    return Supplier(store_id=ctx.store_id if store_id is None else store_id, name=name, licence_no="L",
                    licence_expiry=ctx.today)


def _suppliers(engine: Engine, *names: str) -> list[str]:
    with read_session(engine) as s:
        return list(s.exec(select(Supplier.name).where(col(Supplier.name).in_(names)).order_by(col(Supplier.id))))


def test_a_core_unit_commits_its_statements_and_its_sessions_writes_together(engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        first = ADD_JOB.scalar(u.connection(), _job_values(ctx, "prepared"))
        assert u.loaded() is None  # no Session until a path asks for one
        session = orm(u)
        assert u.loaded() is session is orm(u)
        job = session.get(PrintJob, first)
        assert job is not None and job.ref == "prepared"  # same connection, same transaction
        session.add(_supplier(ctx, "orm"))
        u.flush()
        assert JOB.first(u.connection(), {"id": first}).ref == "prepared"
    assert _refs(engine, "prepared") == ["prepared"] and _suppliers(engine, "orm") == ["orm"]
    with pytest.raises(RuntimeError), core_unit(engine) as u:  # a refusal after both kinds of writes: neither kept
        ADD_JOB.run(u.connection(), _job_values(ctx, "prepared, undone"))
        orm(u).add(_supplier(ctx, "orm, undone"))
        orm(u).flush()
        raise RuntimeError("the use case refused after writing")
    with pytest.raises(sa.exc.IntegrityError), core_unit(engine) as u:  # the Session's flush at the commit fails
        ADD_JOB.run(u.connection(), _job_values(ctx, "prepared, before a bad flush"))
        orm(u).add(_supplier(ctx, "orphan", store_id=ctx.store_id + 1000))
    assert _refs(engine, "prepared, undone", "prepared, before a bad flush") == []
    assert _suppliers(engine, "orm, undone", "orphan") == []
    with core_unit(engine) as u:  # the pool's connection is as good as before
        ADD_JOB.run(u.connection(), _job_values(ctx, "after"))
    assert _refs(engine, "after") == ["after"]


def test_a_ledger_table_refuses_an_orm_write(engine: Engine, ctx: Ctx) -> None:
    """One table, one write style: the print queue, the sales and stock ledgers and the audit log are written by
    their own module's Core statements; a Session that would write one of their rows refuses to flush."""
    from server.db.models import AuditEntry, Sale, Tender
    from server.db.models.ledger import BatchBalance, StockMovement

    for row in (PrintJob(**_job_values(ctx, "orm")), Sale(id="x", store_id=ctx.store_id, till_id=1, shift_id=1,
                                                           opened_by=1, opened_at=ctx.now),
                Tender(store_id=ctx.store_id, sale_id="x", kind="cash", amount_fen=1, tendered_fen=1),
                StockMovement(store_id=ctx.store_id, batch_id=1, item_id=1, kind="sale", qty=-1, at=ctx.now),
                BatchBalance(batch_id=1, location="sellable", store_id=ctx.store_id, item_id=1, qty=5),
                AuditEntry(store_id=ctx.store_id, seq=1, at=ctx.now, actor="x", action="x", entity="x", entity_id="1",
                           prev_hash="", hash="")):
        with pytest.raises(RuntimeError, match="written by Core statements"), core_unit(engine) as u:
            orm(u).add(row)
    with core_unit(engine) as u:  # nor may a row read through the ORM be changed and flushed
        job_id = ADD_JOB.scalar(u.connection(), _job_values(ctx, "read, then changed"))
    with pytest.raises(RuntimeError, match="written by Core statements"), core_unit(engine) as u:
        loaded = orm(u).get(PrintJob, job_id)
        assert loaded is not None
        loaded.status = "printed"
    assert JOB.first(engine.connect(), {"id": job_id}).status == "pending"


def test_what_a_unit_leaves_for_after_its_commit_is_done_after_it_commits(engine: Engine, ctx: Ctx,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    monkeypatch.setattr(db_uow, "_commit_hooks", [lambda info: seen.append(dict(info))])
    with core_unit(engine) as u:
        u.info["mine"] = 1
        orm(u).info["its session's"] = 2  # e.g. a user changed through the ORM (the principal cache's flag)
    with pytest.raises(RuntimeError), core_unit(engine) as u:
        u.info["rolled back"] = 3
        raise RuntimeError
    with core_unit(engine) as u:
        u.info["past a savepoint"] = 4
        with orm(u).begin_nested():  # a savepoint's release is not the commit: the flags wait for it
            pass
        assert len(seen) == 1
    with core_unit(engine) as u:
        orm(u).info["in a savepoint"] = 5
        with orm(u).begin_nested():
            pass
        assert len(seen) == 2
    assert seen == [{"mine": 1, "its session's": 2}, {"past a savepoint": 4}, {"in a savepoint": 5}]
    # And the print worker is woken by a receipt a core unit queued, after its commit, never before
    woken: list[list[str]] = []
    stop = printing.on_enqueued(lambda: woken.append(_refs(engine, "queued")))
    monkeypatch.setattr(db_uow, "_commit_hooks", [printing._after_commit])
    try:
        with core_unit(engine) as u:
            printing.queue_receipt(u, ctx, "queued", "T01", cash=False)
            assert woken == []
        with pytest.raises(RuntimeError), core_unit(engine) as u:
            printing.queue_receipt(u, ctx, "never", "T01", cash=False)
            raise RuntimeError
    finally:
        stop()
    assert woken == [["queued"]]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_core_units_commit_is_durable_and_it_does_not_nest_with_the_loops(engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        assert u.connection().exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
    with core_unit(engine, durable=False) as u:
        assert u.connection().exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL: a basket
    with core_unit(engine) as u:
        ADD_JOB.run(u.connection(), _job_values(ctx, "outer core"))
        with pytest.raises(WriterBusy), loop_unit(engine):
            pass
    with pytest.raises(RuntimeError), loop_unit(engine) as u:  # it may wait: not inside the loop's
        ADD_JOB.run(u.connection(), _job_values(ctx, "undone by the loop"))
        with core_unit(engine):
            pass
    assert _refs(engine, "outer core", "undone by the loop") == ["outer core"]


class _Clock:
    """time as sqlite.py reads it, each reading `step` seconds after the last: every commit takes `step`."""

    def __init__(self, step: float) -> None:
        self.step, self.now = step, 0.0

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


def _synchronous(u: Unit) -> int:
    return int(_sqlite(u.connection()).execute("PRAGMA synchronous").fetchone()[0])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_loop_waits_for_a_durable_commit_only_while_the_disk_answers_quickly(
        engine: Engine, ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_sqlite, "time", _Clock(0.0005))  # a local SSD: half a millisecond a commit
    with loop_unit(engine, durable=True) as u:
        assert _synchronous(u) == 2  # FULL: on disk before it is acknowledged
        ADD_JOB.run(u.connection(), _job_values(ctx, "paid on the loop"))
    with loop_unit(engine) as u:
        assert _synchronous(u) == 1  # an open basket's edit again: NORMAL
    for _ in range(4):
        with loop_unit(engine, durable=True):
            pass
    assert loop_may_wait(engine)
    monkeypatch.setattr(db_sqlite, "time", _Clock(0.040))
    with core_unit(engine):  # one commit that ran a WAL checkpoint: not a slow disk
        pass
    for _ in range(10):
        with loop_unit(engine):  # nor is a basket's commit, which does not wait for the disk
            pass
    assert loop_may_wait(engine)
    monkeypatch.setattr(db_sqlite, "time", _Clock(0.010))  # a disk taking 10 ms a commit
    slow = 0
    while loop_may_wait(engine):
        with loop_unit(engine, durable=True):
            slow += 1
    assert slow <= 6  # the loop stops taking them within a few
    monkeypatch.setattr(db_sqlite, "time", _Clock(0.0005))  # the disk is quick again
    quick = 0
    while not loop_may_wait(engine):
        with core_unit(engine):  # the worker's durable commits keep the median up to date
            quick += 1
        assert quick < 20
    assert _refs(engine, "paid on the loop") == ["paid on the loop"]
