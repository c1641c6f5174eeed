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

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

_WRITE = "dingdian_write"
_WAIT = "dingdian_wait"
_SYNCHRONOUS = "dingdian_synchronous"
_ON_LOOP = "dingdian_on_loop"
BUSY_TIMEOUT_MS = 30_000
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


class WriterBusy(Exception):
    """write_session(wait=False) found the writer's lock taken (in this process or by another): nothing was
    written; the caller does the work where waiting is harmless (a worker thread) instead."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (pysqlite's own is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.close()
        record.info[_SYNCHRONOUS] = "durable"

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is not None and record.info.pop(_ON_LOOP, False):  # back to what every other user expects
            dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        mode = options.get(_WRITE)
        if mode:
            if not options.get(_WAIT, True):
                # On the event loop (wait=False): fail at once on another process's lock, and leave the WAL's
                # checkpoint (a copy into the database file and two syncs, ms to tens of ms) to the next
                # commit made in a worker thread. Both are put back when the connection returns to the pool.
                raw = conn.connection.dbapi_connection
                raw.execute("PRAGMA busy_timeout=0")
                raw.execute("PRAGMA wal_autocheckpoint=0")
                conn.connection.info[_ON_LOOP] = True
            # FULL: the commit is on disk before it is acknowledged. NORMAL (an open basket's edit):
            # it survives a crash of the service, and the next FULL commit — the sale's completion —
            # puts it on disk too; only a power cut could lose it, and with it nothing paid for.
            info = conn.connection.info  # the pooled connection's own: the setting stays with it
            if info.get(_SYNCHRONOUS) != mode:  # set only when it changes: a run of scans pays it once
                conn.exec_driver_sql(f"PRAGMA synchronous={'FULL' if mode == 'durable' else 'NORMAL'}")
                info[_SYNCHRONOUS] = mode
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")


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
        self.lock = _writer_lock(engine)
        self._binds = {(durable, wait): engine.execution_options(**{_WRITE: "durable" if durable else "basket",
                                                                    _WAIT: wait})
                       for durable in (True, False) for wait in (True, False)}

    def bind(self, durable: bool, wait: bool) -> Engine:
        return self._binds[durable, wait]


def _writer_of(engine: Engine) -> _Writer:
    writer: _Writer | None = getattr(engine, "_dingdian_writer", None)
    if writer is None:
        writer = _Writer(engine)
        engine._dingdian_writer = writer  # type: ignore[attr-defined]
    return writer


def _idle_connection(engine: Engine) -> bool:
    checked_in = getattr(engine.pool, "checkedin", None)
    return checked_in is None or checked_in() > 0


def _busy(exc: BaseException) -> bool:
    """SQLite's "database is locked", as SQLAlchemy or the driver raised it."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None) if isinstance(orig, sqlite3.OperationalError) else None
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def write_session(engine: Engine, durable: bool = True, wait: bool = True) -> Iterator[Session]:
    """One unit of work: everything inside commits together (audit entry included) or not at all.

    durable=False is for an open basket's edits only (see _on_begin); on PostgreSQL it changes nothing.
    wait=False (SQLite only): raise WriterBusy, with nothing written, instead of waiting for another writer
    — for work done on the event loop, which must not block on a lock.
    """
    writer = _writer_of(engine)
    lock = writer.lock
    if lock is None and not wait:
        raise ValueError("wait=False is for SQLite: another backend's writer is never run on the event loop")
    if not wait and not _idle_connection(engine):
        raise WriterBusy  # taking one would wait for the pool: the worker thread can wait, the loop cannot
    if lock is not None and not lock.acquire(blocking=wait):
        raise WriterBusy
    try:
        with Session(writer.bind(durable, wait), expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                session.rollback()
                if not wait and _busy(exc):
                    raise WriterBusy from exc
                raise
    finally:
        if lock is not None:
            lock.release()
