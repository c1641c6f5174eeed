"""Engines and units of work.

SQLite: WAL with synchronous=FULL (an acknowledged commit survives a power cut), foreign keys on,
and write transactions opened with BEGIN IMMEDIATE so two writers queue on the lock instead of
failing mid-transaction. PostgreSQL: its defaults (synchronous_commit on), row locks where order
matters.
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
from sqlalchemy.orm import Session as OrmSession
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


class CoreUnit:
    """A unit of work on one connection in a transaction, for statements run prepared (server.db.prepared)
    without the ORM. A use case written for a Session runs in it unchanged as long as it only calls
    connection() and flush(); a path that needs the ORM asks for orm(s), which here makes a Session on the
    same connection and transaction the first time (made only when asked: a cash sale's payment never is).

    `info`: flags the work leaves for after the commit (on_commit), as a Session's info."""

    __slots__ = ("_conn", "_session", "info")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._session: Session | None = None
        self.info: dict[str, Any] = {}

    def connection(self) -> Connection:
        return self._conn

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    def session(self) -> Session:
        if self._session is None:
            # rollback_only: the Session joins the unit's transaction and never ends it; core_unit does
            self._session = Session(bind=self._conn, expire_on_commit=False, join_transaction_mode="rollback_only")
        return self._session

    def loaded(self) -> Session | None:
        """The Session, if a path made one (its identity map may hold rows the unit's statements changed)."""
        return self._session

    def _close(self) -> dict[str, Any]:
        """Closes the Session, if any; the flags the unit's work left, its and its Session's."""
        if self._session is None:
            return self.info
        info = self.info | self._session.info
        self._session.close()
        return info


class LoopUnit(CoreUnit):
    """The event loop's unit of work (loop_unit): a path that needs the ORM (a refusal worded from full
    reads) raises NotOnLoop here, and the whole use case is done again in a worker."""

    __slots__ = ()

    def session(self) -> Session:
        raise NotOnLoop


Unit = Session | CoreUnit


def orm(unit: Unit) -> Session:
    """The unit of work's ORM session (made on first ask in a CoreUnit; the loop's has none: NotOnLoop)."""
    return unit if isinstance(unit, Session) else unit.session()


def loaded_session(unit: Unit) -> Session | None:
    """The unit's ORM session if it has one already: a Session, or the one a CoreUnit's work made."""
    return unit if isinstance(unit, Session) else unit.loaded()


_commit_hooks: list[Callable[[dict[str, Any]], None]] = []


def on_commit(hook: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Call hook(info) after every unit of work commits (a Session's or a CoreUnit's), with the flags its
    work left in `info`; the hook pops the ones it owns."""
    _commit_hooks.append(hook)
    return hook


def _committed(info: dict[str, Any]) -> None:
    if info:
        for hook in _commit_hooks:
            hook(info)


# Every Session, sqlmodel's or SQLAlchemy's own; after_commit also marks a savepoint's release, which is not one
event.listen(OrmSession, "after_commit",
             lambda session: None if session.in_nested_transaction() else _committed(session.info))


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def _configure_sqlite(engine: Engine, on_loop: bool = False) -> None:
    """on_loop: the event loop's own connection (_Writer.loop_connection), for loop_unit's transactions (an
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
            _synchronous(conn.connection, mode, conn.exec_driver_sql)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode else "BEGIN")


_SYNCHRONOUS_LEVEL = {"durable": "FULL", "basket": "NORMAL"}


def _synchronous(pooled: Any, mode: str, execute: Callable[[str], Any]) -> None:
    """The connection's synchronous setting for a unit of work of this mode, outside its transaction. Kept in
    the pooled connection's own info and set only when it changes: a run of scans pays for it once."""
    if pooled.info.get(_SYNCHRONOUS) != mode:
        execute(f"PRAGMA synchronous={_SYNCHRONOUS_LEVEL[mode]}")
        pooled.info[_SYNCHRONOUS] = mode


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
        # The last durable commits' durations (SQLite; the loop's and core_unit's): see loop_may_wait
        self._durable_commits: deque[float] = deque(maxlen=DURABLE_COMMITS_KEPT)
        if self.lock is not None:
            event.listen(engine, "engine_disposed", lambda _engine: self.close_loop())

    def bind(self, durable: bool) -> Engine:
        return self._binds[durable]

    def committed_durably(self, seconds: float) -> None:
        self._durable_commits.append(seconds)

    def durable_commit_s(self) -> float:
        """Their median: a WAL checkpoint in a pool connection's commit (tens of ms, now and then) does not
        move it; a disk that stays slow does, within a few commits."""
        return statistics.median(self._durable_commits) if self._durable_commits else 0.0

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
        elif _sqlite_of(conn).in_transaction:
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


def _sqlite_of(conn: Connection) -> sqlite3.Connection:
    """The driver's connection under the event loop's SQLAlchemy one (SQLite only)."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError(f"the event loop's connection is SQLite's, not {type(raw).__name__}")
    return raw


_writer_creation = threading.Lock()


def _writer_of(engine: Engine) -> _Writer:
    # Kept on the engine itself, not in a mapping keyed by it: the writer holds its engine, the two go together.
    attrs = vars(engine)
    writer: _Writer | None = attrs.get("_dingdian_writer")
    if writer is None:
        with _writer_creation:
            writer = attrs.get("_dingdian_writer")
            if writer is None:
                writer = attrs["_dingdian_writer"] = _Writer(engine)
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
def _writing(engine: Engine) -> Iterator[_Writer]:
    """The writer's lock (SQLite), held by this thread for one unit of work that may wait for it."""
    if getattr(_this_thread, "loop", False):
        raise RuntimeError("a unit of work that may wait, inside the event loop's")
    writer = _writer_of(engine)
    lock = writer.lock
    if lock is not None:
        lock.acquire()
    _this_thread.depth = getattr(_this_thread, "depth", 0) + 1
    try:
        yield writer
    finally:
        _this_thread.depth -= 1
        if lock is not None:
            lock.release()


@contextmanager
def write_session(engine: Engine, durable: bool = True) -> Iterator[Session]:
    """One unit of work: everything inside commits together (audit entry included) or not at all.

    durable=False is for an open basket's edits only (see _on_begin); on PostgreSQL it changes nothing.
    """
    with _writing(engine) as writer, Session(writer.bind(durable), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def core_unit(engine: Engine, durable: bool = True) -> Iterator[CoreUnit]:
    """write_session's unit of work for a use case written for prepared statements (see CoreUnit): the
    same lock, transaction and commit, without a Session's machinery around them unless the work asks for
    one. Measured on a cash sale's payment: the Session's begin, connection look-ups, commit and close cost
    about a fifth of the use case."""
    with _writing(engine) as writer, writer.bind(durable).connect() as conn:
        unit = CoreUnit(conn)
        transaction = conn.begin()
        try:
            yield unit
            unit.flush()
            info = unit._close()
            started = time.perf_counter()
            transaction.commit()
            if durable and writer.lock is not None:
                writer.committed_durably(time.perf_counter() - started)
        except BaseException:
            unit._close()
            if transaction.is_active:  # a failed flush has rolled it back already (join_transaction_mode)
                transaction.rollback()
            raise
    _committed(info)


@contextmanager
def loop_unit(engine: Engine, durable: bool = False) -> Iterator[LoopUnit]:
    """A unit of work done on the event loop (SQLite): it never waits for another writer. WriterBusy, with
    nothing written, if the writer's lock is taken here or by another process; NotOnLoop from the work itself
    if it needs the ORM. Measured on a scan: SQLAlchemy's Session and transaction events around ten prepared
    statements cost as much as the statements; BEGIN and COMMIT straight on the loop's own connection
    (_Writer.loop_connection) cost a twentieth of that.

    durable=False: an open basket's edit (synchronous=NORMAL, as write_session's). durable=True: a commit on
    disk before it is acknowledged (FULL), which the loop waits for: only while loop_may_wait says the disk
    answers quickly."""
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
            raw = _sqlite_of(conn)
            with as_sqlalchemy_error(conn.dialect, "BEGIN IMMEDIATE", ()):
                _synchronous(conn.connection, "durable" if durable else "basket", raw.execute)
                raw.execute("BEGIN IMMEDIATE")
            unit = LoopUnit(conn)
            try:
                yield unit
                started = time.perf_counter()
                with as_sqlalchemy_error(conn.dialect, "COMMIT", ()):
                    raw.commit()
                if durable:
                    writer.committed_durably(time.perf_counter() - started)
            except BaseException:
                try:
                    raw.rollback()
                    if conn.in_transaction():  # SQLAlchemy began one (refused: NotOnLoop): not carried over
                        conn.rollback()
                except Exception:
                    writer.close_loop()  # a connection that cannot roll back is not used again: discarded
                raise
    finally:
        _this_thread.depth, _this_thread.loop = 0, False
        writer.lock.release()
    _committed(unit.info)


# A durable commit the event loop may wait for: a local SSD's (about 1 ms measured, most of it the WAL's
# writes). A slow disk (an SD card, a busy or failing drive) would hold every other request for as long:
# its payments then commit in a worker thread (core_unit), whose commits keep the median up to date.
LOOP_DURABLE_COMMIT_LIMIT_S = 0.002
DURABLE_COMMITS_KEPT = 15


def loop_may_wait(engine: Engine) -> bool:
    """Whether the event loop may take a durable unit of work (loop_unit(durable=True)): SQLite, with the
    median of the recent durable commits (loop_unit's and core_unit's) under LOOP_DURABLE_COMMIT_LIMIT_S."""
    writer = _writer_of(engine)
    return writer.lock is not None and writer.durable_commit_s() < LOOP_DURABLE_COMMIT_LIMIT_S


@contextmanager
def _busy_as_writer_busy() -> Iterator[None]:
    """SQLite's "database is locked", from the driver or SQLAlchemy, as WriterBusy: the worker's to do."""
    try:
        yield
    except Exception as exc:
        if _busy(exc):
            raise WriterBusy from exc
        raise
