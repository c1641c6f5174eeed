"""Engines and units of work.

SQLite: WAL with synchronous=FULL (an acknowledged commit survives a power cut), foreign keys on,
and write transactions opened with BEGIN IMMEDIATE so two writers queue on the lock instead of
failing mid-transaction. PostgreSQL: its defaults (synchronous_commit on), row locks where order
matters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

_WRITE = "dingdian_write"
_SYNCHRONOUS = "dingdian_synchronous"


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
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        record.info[_SYNCHRONOUS] = "durable"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_WRITE)
        if mode:
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


def _writer_lock(engine: Engine) -> AbstractContextManager[object]:
    """SQLite takes one writer at a time anyway; queueing them here, in arrival order, replaces its
    busy-wait (sleeps of up to 100 ms between retries) with a fair queue — the tills' p99 drops."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    key = str(engine.url)
    with _registry_lock:
        return _sqlite_writers.setdefault(key, threading.RLock())


@contextmanager
def write_session(engine: Engine, durable: bool = True) -> Iterator[Session]:
    """One unit of work: everything inside commits together (audit entry included) or not at all.

    durable=False is for an open basket's edits only (see _on_begin); on PostgreSQL it changes nothing.
    """
    mode = "durable" if durable else "basket"
    with _writer_lock(engine), Session(engine.execution_options(**{_WRITE: mode}), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
