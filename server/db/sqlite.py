"""SQLite, and only SQLite: the connection's settings, the writers' queue, the event loop's own connections (one
to write, one to read) and the disk-speed policy that says when the loop may wait for a durable commit.

WAL with synchronous=FULL (an acknowledged commit survives a power cut), foreign keys on, and write
transactions opened with BEGIN IMMEDIATE so two writers queue on the lock instead of failing
mid-transaction. The units of work (server.db.uow) ask this module; PostgreSQL needs none of it.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

_WRITE = "dingdian_write"
_SYNCHRONOUS = "dingdian_synchronous"
BUSY_TIMEOUT_MS = 30_000
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


class NotOnLoop(Exception):
    """The work cannot be done in the event loop's unit of work (loop_unit): nothing was written; the caller
    does it in a core_unit in a worker thread instead, where waiting and the ORM are at home."""


class WriterBusy(NotOnLoop):
    """loop_unit found the writer's lock taken (in this process or by another), or would have had to wait."""


def configure_sqlite(engine: Engine, on_loop: bool = False) -> None:
    """on_loop: the event loop's own connection (Writer.loop_connection), for loop_unit's transactions (an
    open basket's edit at synchronous=NORMAL, a cash payment at FULL): they fail at once on another process's
    lock (busy_timeout=0) and leave the WAL's checkpoint (a copy into the database file and two syncs, ms to
    tens of ms) to the pool's connections, whose commits are made in worker threads (wal_autocheckpoint=0)."""
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
            set_synchronous(conn.connection, mode, conn.exec_driver_sql)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")


_SYNCHRONOUS_LEVEL = {"durable": "FULL", "basket": "NORMAL"}


def set_synchronous(pooled: Any, mode: str, execute: Callable[[str], Any]) -> None:
    """The connection's synchronous setting for a unit of work of this mode, outside its transaction. Kept in
    the pooled connection's own info and set only when it changes: a run of scans pays for it once."""
    if pooled.info.get(_SYNCHRONOUS) != mode:
        execute(f"PRAGMA synchronous={_SYNCHRONOUS_LEVEL[mode]}")
        pooled.info[_SYNCHRONOUS] = mode


_sqlite_writers: dict[str, threading.RLock] = {}
_registry_lock = threading.Lock()


def writer_lock(engine: Engine) -> threading.RLock | None:
    """SQLite takes one writer at a time anyway; queueing them here, in arrival order, replaces its
    busy-wait (sleeps of up to 100 ms between retries) with a fair queue — the tills' p99 drops."""
    if engine.dialect.name != "sqlite":
        return None
    key = str(engine.url)
    with _registry_lock:
        return _sqlite_writers.setdefault(key, threading.RLock())


class Writer:
    """What a unit of work needs of an engine, looked up once per engine (a scan pays for every lookup)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = writer_lock(engine)
        self._binds = {durable: engine.execution_options(**{_WRITE: "durable" if durable else "basket"})
                       for durable in (True, False)}
        self._loop: Connection | None = None
        self._reader: Connection | None = None
        # The last durable commits' durations (SQLite; the loop's and core_unit's): see loop_may_wait
        self._durable_commits: deque[float] = deque(maxlen=DURABLE_COMMITS_KEPT)
        if self.lock is not None:
            event.listen(engine, "engine_disposed", lambda _engine: self.close_loop())

    def bind(self, durable: bool) -> Engine:
        return self._binds[durable]

    def commit(self, commit: Callable[[], None], durable: bool) -> None:
        """Run a unit of work's commit; a durable one's duration is kept for loop_may_wait (SQLite's writers)."""
        started = time.perf_counter()
        commit()
        if durable and self.lock is not None:
            self._durable_commits.append(time.perf_counter() - started)

    def durable_commit_s(self) -> float:
        """Their median: a WAL checkpoint in a pool connection's commit (tens of ms, now and then) does not
        move it; a disk that stays slow does, within a few commits."""
        return statistics.median(self._durable_commits) if self._durable_commits else 0.0

    def loop_connection(self) -> Connection:
        """The event loop's own connection, outside the pool; used only by loop_unit, under the writer's lock.

        Set up once (configure_sqlite, on_loop): per unit of work it then costs no pool check-out, check-in
        or setting changed and put back, and the loop never waits for a pool connection another thread holds.
        """
        conn = self._loop
        if conn is None or conn.closed or conn.invalidated:
            conn = self._loop = self._connect_for_loop()
        elif sqlite_of(conn).in_transaction:
            # Every exit from loop_unit commits, rolls back or closes: units of work must have nested.
            raise RuntimeError("the event loop's connection is inside a transaction")
        return conn

    def loop_reader(self) -> Connection:
        """The event loop's own connection for reads (loop_read), beside loop_connection's for writes: a read
        needs neither the writer's lock nor a pool connection, and in WAL mode never waits for the writer.
        It is query_only: nothing is ever written through it."""
        conn = self._reader
        if conn is None or conn.closed or conn.invalidated:
            conn = self._reader = self._connect_for_loop()
            sqlite_of(conn).execute("PRAGMA query_only=ON")
        elif sqlite_of(conn).in_transaction:
            raise RuntimeError("the event loop's reading connection is inside a transaction")
        return conn

    def discard_reader(self) -> None:
        """Close the loop's reading connection (the next read opens another). No lock: only the loop uses it."""
        conn, self._reader = self._reader, None
        if conn is not None:
            conn.close()
            conn.engine.dispose()

    def _connect_for_loop(self) -> Connection:
        database = self.engine.url.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(self.engine.url):
            raise WriterBusy  # a second connection would see another database: the pool's own, in a worker
        # timeout=0: not even the connection's own set-up waits for another writer on the event loop
        loop_engine = create_engine(self.engine.url, poolclass=StaticPool,
                                    connect_args={"check_same_thread": False, "timeout": 0})
        configure_sqlite(loop_engine, on_loop=True)
        return loop_engine.connect()

    def close_loop(self) -> None:
        if self.lock is None:
            return
        with self.lock:  # not while a unit of work is using it (the lock is re-entrant for loop_unit's own call)
            conns, self._loop, self._reader = (self._loop, self._reader), None, None
            for conn in conns:
                if conn is not None:
                    conn.close()
                    conn.engine.dispose()


def sqlite_of(conn: Connection) -> sqlite3.Connection:
    """The driver's connection under the event loop's SQLAlchemy one (SQLite only)."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError(f"the event loop's connection is SQLite's, not {type(raw).__name__}")
    return raw


_writer_creation = threading.Lock()


def writer_of(engine: Engine) -> Writer:
    # Kept on the engine itself, not in a mapping keyed by it: the writer holds its engine, the two go together.
    attrs = vars(engine)
    writer: Writer | None = attrs.get("_dingdian_writer")
    if writer is None:
        with _writer_creation:
            writer = attrs.get("_dingdian_writer")
            if writer is None:
                writer = attrs["_dingdian_writer"] = Writer(engine)
    return writer


def _busy(exc: BaseException) -> bool:
    """SQLite's "database is locked", as SQLAlchemy or the driver raised it."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None) if isinstance(orig, sqlite3.OperationalError) else None
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# A durable commit the event loop may wait for: a local SSD's (about 1 ms measured, most of it the WAL's
# writes). A slow disk (an SD card, a busy or failing drive) would hold every other request for as long:
# its payments then commit in a worker thread (core_unit), whose commits keep the median up to date.
LOOP_DURABLE_COMMIT_LIMIT_S = 0.002
DURABLE_COMMITS_KEPT = 15


def loop_may_wait(engine: Engine) -> bool:
    """Whether the event loop may take a durable unit of work (loop_unit(durable=True)): SQLite, with the
    median of the recent durable commits (loop_unit's and core_unit's) under LOOP_DURABLE_COMMIT_LIMIT_S."""
    writer = writer_of(engine)
    return writer.lock is not None and writer.durable_commit_s() < LOOP_DURABLE_COMMIT_LIMIT_S


@contextmanager
def busy_as_writer_busy() -> Iterator[None]:
    """SQLite's "database is locked", from the driver or SQLAlchemy, as WriterBusy: the worker's to do."""
    try:
        yield
    except Exception as exc:
        if _busy(exc):
            raise WriterBusy from exc
        raise
