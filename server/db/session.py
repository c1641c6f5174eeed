"""Engines and units of work.

SQLite: WAL with synchronous=FULL (an acknowledged commit survives a power cut), foreign keys on,
and write transactions opened with BEGIN IMMEDIATE so two writers queue on the lock instead of
failing mid-transaction. PostgreSQL: its defaults (synchronous_commit on), row locks where order
matters.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from server.db.prepared import as_sqlalchemy_error

_WRITE = "dingdian_write"
_SYNCHRONOUS = "dingdian_synchronous"
BUSY_TIMEOUT_MS = 30_000
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


class NotOnLoop(Exception):
    """The work cannot be done in the event loop's unit of work (loop_unit): nothing was written; the caller
    does it in a write_session in a worker thread instead, where waiting and the ORM are at home."""


class WriterBusy(NotOnLoop):
    """loop_unit found the writer's lock taken (in this process or by another), or would have had to wait."""


class LoopUnit:
    """The event loop's unit of work: one connection in a transaction, for statements run prepared
    (server.db.prepared), without the ORM. A use case written for a Session runs in it unchanged as long as
    it only calls connection() and flush(); a path that needs the ORM (a refusal worded from full reads)
    asks for orm(s), which here raises NotOnLoop: the whole use case is then done again in a worker."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def connection(self) -> Connection:
        return self._conn

    def flush(self) -> None:
        """Nothing to flush: no ORM object is held."""


Unit = Session | LoopUnit


def orm(unit: Unit) -> Session:
    """The unit of work's ORM session. The loop's has none (see LoopUnit)."""
    if isinstance(unit, LoopUnit):
        raise NotOnLoop
    return unit


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def _configure_sqlite(engine: Engine, on_loop: bool = False) -> None:
    """on_loop: the event loop's own connection (_Writer.loop_connection): an open basket's edit
    (synchronous=NORMAL) that fails at once on another process's lock (busy_timeout=0) and leaves the WAL's
    checkpoint (a copy into the database file and two syncs, ms to tens of ms) to the pool's connections,
    whose commits are made in worker threads (wal_autocheckpoint=0). Its transactions are loop_unit's."""
    busy_timeout_ms, wal_autocheckpoint = (0, 0) if on_loop else (BUSY_TIMEOUT_MS, WAL_AUTOCHECKPOINT_PAGES)
    synchronous = "basket" if on_loop else "durable"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (pysqlite's own is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={_SYNCHRONOUS_LEVEL[synchronous]}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.execute(f"PRAGMA wal_autocheckpoint={wal_autocheckpoint}")
        cur.close()
        record.info[_SYNCHRONOUS] = synchronous

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if on_loop:  # SQLAlchemy's own execution would BEGIN inside loop_unit's: that work is a worker's
            raise NotOnLoop
        mode = conn.get_execution_options().get(_WRITE)
        if mode:
            # FULL: the commit is on disk before it is acknowledged. NORMAL (an open basket's edit):
            # it survives a crash of the service, and the next FULL commit — the sale's completion —
            # puts it on disk too; only a power cut could lose it, and with it nothing paid for.
            info = conn.connection.info  # the pooled connection's own: the setting stays with it
            if info.get(_SYNCHRONOUS) != mode:  # set only when it changes: a run of scans pays it once
                conn.exec_driver_sql(f"PRAGMA synchronous={_SYNCHRONOUS_LEVEL[mode]}")
                info[_SYNCHRONOUS] = mode
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")


_SYNCHRONOUS_LEVEL = {"durable": "FULL", "basket": "NORMAL"}


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


_sqlite_writers: dict[str, threading.RLock] = {}
_registry_lock = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock | None:
    """SQLite takes one writer at a time anyway; queueing them here, in arrival order, replaces its
    busy-wait (sleeps of up to 100 ms between retries) with a fair queue — the tills' p99 drops."""
    if engine.dialect.name != "sqlite":
        return None
    key = str(engine.url)
    with _registry_lock:
        return _sqlite_writers.setdefault(key, threading.RLock())


class _Writer:
    """What write_session needs of an engine, looked up once per engine (a scan pays for every lookup)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = _writer_lock(engine)
        self._binds = {durable: engine.execution_options(**{_WRITE: "durable" if durable else "basket"})
                       for durable in (True, False)}
        self._loop: Connection | None = None
        if self.lock is not None:
            event.listen(engine, "engine_disposed", lambda _engine: self.close_loop())

    def bind(self, durable: bool) -> Engine:
        return self._binds[durable]

    def loop_connection(self) -> Connection:
        """The event loop's own connection, outside the pool; used only by loop_unit, under the writer's lock.

        Set up once (_configure_sqlite, on_loop): per unit of work it then costs no pool check-out, check-in
        or setting changed and put back, and the loop never waits for a pool connection another thread holds.
        """
        conn = self._loop
        if conn is None or conn.closed or conn.invalidated:
            database = self.engine.url.database or ""
            if database in ("", ":memory:") or "mode=memory" in str(self.engine.url):
                raise WriterBusy  # a second connection would see another database: the pool's own, in a worker
            # timeout=0: not even the connection's own set-up waits for another writer on the event loop
            loop_engine = create_engine(self.engine.url, poolclass=StaticPool,
                                        connect_args={"check_same_thread": False, "timeout": 0})
            _configure_sqlite(loop_engine, on_loop=True)
            conn = self._loop = loop_engine.connect()
        elif conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            # Every exit from loop_unit commits, rolls back or closes: units of work must have nested.
            raise RuntimeError("the event loop's connection is inside a transaction")
        return conn

    def close_loop(self) -> None:
        if self.lock is None:
            return
        with self.lock:  # not while a unit of work is using it (the lock is re-entrant for loop_unit's own call)
            conn, self._loop = self._loop, None
            if conn is not None:
                conn.close()
                conn.engine.dispose()


_writer_creation = threading.Lock()


def _writer_of(engine: Engine) -> _Writer:
    writer: _Writer | None = getattr(engine, "_dingdian_writer", None)
    if writer is None:
        with _writer_creation:
            writer = getattr(engine, "_dingdian_writer", None)
            if writer is None:
                writer = _Writer(engine)
                engine._dingdian_writer = writer  # type: ignore[attr-defined]
    return writer


# The units of work this thread is inside (write_session's and loop_unit's), to refuse the nestings that the
# writer's re-entrant lock would let through: a loop_unit inside any unit of work of the same thread, and a
# write_session (which may wait) inside a loop_unit.
_this_thread = threading.local()


def _busy(exc: BaseException) -> bool:
    """SQLite's "database is locked", as SQLAlchemy or the driver raised it."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None) if isinstance(orig, sqlite3.OperationalError) else None
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def write_session(engine: Engine, durable: bool = True) -> Iterator[Session]:
    """One unit of work: everything inside commits together (audit entry included) or not at all.

    durable=False is for an open basket's edits only (see _on_begin); on PostgreSQL it changes nothing.
    """
    if getattr(_this_thread, "loop", False):
        raise RuntimeError("a unit of work that may wait, inside the event loop's")
    writer = _writer_of(engine)
    lock = writer.lock
    if lock is not None:
        lock.acquire()
    _this_thread.depth = getattr(_this_thread, "depth", 0) + 1
    try:
        with Session(writer.bind(durable), expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        _this_thread.depth -= 1
        if lock is not None:
            lock.release()


@contextmanager
def loop_unit(engine: Engine) -> Iterator[LoopUnit]:
    """An open basket's edit done on the event loop (SQLite): it never waits. WriterBusy, with nothing
    written, if the writer's lock is taken here or by another process; NotOnLoop from the work itself if
    it needs the ORM. Measured on a scan: SQLAlchemy's Session and transaction events around ten prepared
    statements cost as much as the statements; BEGIN and COMMIT straight on the loop's own connection
    (_Writer.loop_connection) cost a twentieth of that."""
    writer = _writer_of(engine)
    if writer.lock is None:
        raise ValueError("the event loop's unit of work is SQLite's: another backend's writer runs in a worker")
    if getattr(_this_thread, "depth", 0):  # inside another unit of work of this thread: its lock, not ours
        raise WriterBusy
    if not writer.lock.acquire(blocking=False):
        raise WriterBusy
    _this_thread.depth, _this_thread.loop = 1, True
    try:
        with _busy_as_writer_busy():
            conn = writer.loop_connection()
            raw = conn.connection.dbapi_connection
            with as_sqlalchemy_error(conn.dialect, "BEGIN IMMEDIATE", ()):
                raw.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            try:
                yield LoopUnit(conn)
                with as_sqlalchemy_error(conn.dialect, "COMMIT", ()):
                    raw.commit()  # type: ignore[union-attr]
            except BaseException:
                try:
                    raw.rollback()  # type: ignore[union-attr]
                    if conn.in_transaction():  # SQLAlchemy began one (refused: NotOnLoop): not carried over
                        conn.rollback()
                except Exception:
                    writer.close_loop()  # a connection that cannot roll back is not used again: discarded
                raise
    finally:
        _this_thread.depth, _this_thread.loop = 0, False
        writer.lock.release()


@contextmanager
def _busy_as_writer_busy() -> Iterator[None]:
    """SQLite's "database is locked", from the driver or SQLAlchemy, as WriterBusy: the worker's to do."""
    try:
        yield
    except Exception as exc:
        if _busy(exc):
            raise WriterBusy from exc
        raise
