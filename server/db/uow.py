"""The unit of work: everything inside commits together (its audit entry included) or not at all.

One `Unit`: a connection in a transaction, for the statements run prepared (server.db.prepared), with an ORM
Session on the same connection and transaction made the first time the work asks for it (`orm(unit)`), and
the after-commit hooks (`on_commit`). Every use case that writes takes a Unit: the ledger tables through Core
statements in their own module, the reference tables (items, users, the store …) through `orm(unit)`. A cash
sale's payment never asks for the Session, so it never pays for one.

Two openers over one lock and one commit protocol: `core_unit` (a worker thread's; it may wait for SQLite's
writer) and `loop_unit` (the event loop's, a `LoopUnit` on the loop's own SQLite connection, which never waits
and refuses the ORM with NotOnLoop). Where a call runs is server.api.run's to decide; SQLite's specifics are
server.db.sqlite's.

A read is not a unit of work and takes no lock: a read-only path opens `read_session` (an ORM Session that never
commits), `read_unit` (a Unit for prepared statements in one snapshot, ended by a rollback) or `loop_read` (the same on
the event loop's own reading connection); a function typed to take a Session only reads. A read through prepared statements that both a read session and a
unit serve (a sale's lines as the till shows them) takes a `Reader`: what the two have in common.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from server.db.models import AuditEntry, DayCounter, PrintJob, Sale, SaleLine, Tender
from server.db.models.ledger import BatchBalance, StockMovement
from server.db.prepared import as_sqlalchemy_error
from server.db.sqlite import (
    NotOnLoop,
    Writer,
    WriterBusy,
    busy_as_writer_busy,
    set_synchronous,
    sqlite_of,
    writer_of,
)

__all__ = ["LoopUnit", "NotOnLoop", "Reader", "Unit", "WriterBusy", "core_unit", "loop_read", "loop_unit", "on_commit",
           "orm", "read_session", "read_unit", "refuse_orm_writes"]


class Unit:
    """A unit of work on one connection in a transaction: statements run prepared (server.db.prepared) on
    connection(); a path that works through the ORM asks for orm(unit), a Session on the same connection and
    transaction, made the first time it is asked for (a cash sale's payment never is).

    `info`: flags the work leaves for after the commit (on_commit); its Session's are added to them."""

    __slots__ = ("_conn", "_session", "info")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._session: Session | None = None
        self.info: dict[str, Any] = {}

    def connection(self) -> Connection:
        return self._conn

    def flush(self) -> None:
        """What the work changed through the ORM written to the connection, so a statement run on it reads it."""
        if self._session is not None:
            self._session.flush()

    def session(self) -> Session:
        if self._session is None:
            # rollback_only: the Session joins the unit's transaction and never ends it; the opener does
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


class LoopUnit(Unit):
    """The event loop's unit of work (loop_unit): a path that needs the ORM (a refusal worded from full
    reads) raises NotOnLoop here, and the whole use case is done again in a worker."""

    __slots__ = ()

    def session(self) -> Session:
        raise NotOnLoop


def orm(unit: Unit) -> Session:
    """The unit of work's ORM Session (made on first ask; the loop's unit has none: NotOnLoop)."""
    return unit.session()


class Reader(Protocol):
    """Where a read through prepared statements runs: a Unit, or a read session. flush() first, so what the
    unit's work changed through the ORM is read too (a read session has nothing to flush)."""

    def flush(self) -> None: ...

    def connection(self) -> Connection: ...


_commit_hooks: list[Callable[[dict[str, Any]], None]] = []


def on_commit(hook: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Call hook(info) after every unit of work commits, with the flags its work (and its Session's) left in
    `info`; the hook pops the ones it owns."""
    _commit_hooks.append(hook)
    return hook


def _committed(info: dict[str, Any]) -> None:
    if info:
        for hook in _commit_hooks:
            hook(info)


# The ledger tables (DESIGN: "one table, one write style"), each written by Core statements in its own module:
# the sales ledger (server.services.sales_ledger), the stock ledger (server.services.stock.ledger), the audit log
# (server.audit), the print queue (server.services.printing). Listed here, where every unit of work is opened,
# so the guard holds in any process, whichever use cases it has imported.
_core_only: set[type] = {Sale, SaleLine, Tender, DayCounter, StockMovement, BatchBalance, AuditEntry, PrintJob}


def refuse_orm_writes(*models: type) -> None:
    """One table, one write style: these tables too are written by Core statements in their own module only (a
    ledger to come, e.g. the upload outbox). An ORM Session that would insert, change or delete one of their
    rows refuses to flush."""
    _core_only.update(models)


def _refuse_orm_writes(session: OrmSession, _context: Any, _instances: Any) -> None:
    if not _core_only:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if type(obj) in _core_only and (obj not in session.dirty or session.is_modified(obj)):
            raise RuntimeError(f"{type(obj).__name__} is written by Core statements in its own module only, "
                               "never through the ORM")


event.listen(OrmSession, "before_flush", _refuse_orm_writes)


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read, not a unit of work: an ORM Session that is never committed (what it saw is all it is for)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def read_unit(engine: Engine) -> Iterator[Unit]:
    """A read for prepared statements (an ORM Session on the same connection if the work asks for one), in one
    transaction, so its statements see one snapshot; ended by a rollback: nothing is written."""
    with engine.connect() as conn:
        unit = Unit(conn)
        conn.begin()
        try:
            yield unit
        finally:
            unit._close()


@contextmanager
def loop_read(engine: Engine) -> Iterator[LoopUnit]:
    """A read done on the event loop (SQLite), for prepared statements: on the loop's own reading connection
    (Writer.loop_reader), in one read transaction. A reader never waits for SQLite's writer (WAL), and needs no
    lock: NotOnLoop, nothing read, only where it would wait (SQLite busy, e.g. while the WAL is recovered) or
    cannot see the database (one in memory), or if the work asks for the ORM. Then a worker reads."""
    writer = writer_of(engine)
    if writer.lock is None:
        raise ValueError("the event loop's read is SQLite's: another backend's reads run in a worker")
    with busy_as_writer_busy():
        conn = writer.loop_reader()
        raw = sqlite_of(conn)
        with as_sqlalchemy_error(conn.dialect, "BEGIN", ()):
            raw.execute("BEGIN")
        try:
            yield LoopUnit(conn)
        finally:
            try:
                raw.rollback()  # a read transaction: ending it is all there is to do
                if conn.in_transaction():  # SQLAlchemy began one (refused: NotOnLoop): not carried over
                    conn.rollback()
            except Exception:
                writer.discard_reader()  # a connection that cannot end its transaction is not used again
                raise


# The units of work this thread is inside (core_unit's and loop_unit's), to refuse the nestings that the
# writer's re-entrant lock would let through: a loop_unit inside any unit of work of the same thread, and a
# core_unit (which may wait) inside a loop_unit.
_this_thread = threading.local()


@contextmanager
def _writing(engine: Engine) -> Iterator[Writer]:
    """The writer's lock (SQLite), held by this thread for one unit of work that may wait for it."""
    if getattr(_this_thread, "loop", False):
        raise RuntimeError("a unit of work that may wait, inside the event loop's")
    writer = writer_of(engine)
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
def core_unit(engine: Engine, durable: bool = True) -> Iterator[Unit]:
    """A unit of work in a worker thread (the routes', the CLI's, the workers'): it waits for SQLite's writer
    if another holds it. No Session around the connection unless the work asks for one (orm): measured on a
    cash sale's payment, a Session's begin, connection look-ups, commit and close cost about a fifth of it.

    durable=False is for an open basket's edits only (server.db.sqlite: synchronous=NORMAL); on PostgreSQL
    it changes nothing."""
    with _writing(engine) as writer, writer.bind(durable).connect() as conn:
        unit = Unit(conn)
        transaction = conn.begin()
        try:
            yield unit
            unit.flush()
            info = unit._close()
            writer.commit(transaction.commit, durable)
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
    (Writer.loop_connection) cost a twentieth of that.

    durable=False: an open basket's edit (synchronous=NORMAL, as core_unit's). durable=True: a commit on
    disk before it is acknowledged (FULL), which the loop waits for: only while loop_may_wait says the disk
    answers quickly."""
    writer = writer_of(engine)
    if writer.lock is None:
        raise ValueError("the event loop's unit of work is SQLite's: another backend's writer runs in a worker")
    if getattr(_this_thread, "depth", 0):  # inside another unit of work of this thread: its lock, not ours
        raise WriterBusy
    if not writer.lock.acquire(blocking=False):
        raise WriterBusy
    _this_thread.depth, _this_thread.loop = 1, True
    try:
        with busy_as_writer_busy():
            conn = writer.loop_connection()
            raw = sqlite_of(conn)
            with as_sqlalchemy_error(conn.dialect, "BEGIN IMMEDIATE", ()):
                set_synchronous(conn.connection, "durable" if durable else "basket", raw.execute)
                raw.execute("BEGIN IMMEDIATE")
            unit = LoopUnit(conn)
            try:
                yield unit
                with as_sqlalchemy_error(conn.dialect, "COMMIT", ()):
                    writer.commit(raw.commit, durable)
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
