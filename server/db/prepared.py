"""Statements compiled once per database dialect, run on the driver's connection of the caller's transaction.

The till's scan runs ten small statements and the payment about a dozen. Measured on the scan (cProfile,
SQLite): SQLAlchemy Core's execution of each (execution context, events, parameter and result wrapping)
cost about four times the driver's own execute. The statements are still written once, as SQLAlchemy
Core, for both SQLite and PostgreSQL; only their execution is done here: compiled for the connection's
dialect on first use, the bound values converted by the same type processors SQLAlchemy uses, the rows
handed back as named tuples with the same result processors (timestamps as aware datetimes, dates,
booleans, JSON). They run on the DBAPI connection under the caller's SQLAlchemy connection, so they
commit or roll back with everything else in the unit of work.

Not for every statement: ones with expanding IN lists or values rendered at execution time are refused
at compile time (they would need SQLAlchemy's own execution). A statement over a list of values is
written with one bind per value instead (PreparedIn).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, Insert, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DBAPIError, ResourceClosedError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the bind names, in the order a positional driver takes them
    positional: bool
    defaults: dict[str, Any]  # values the statement carries itself (literals compared against)
    binders: tuple[tuple[str, Callable[[Any], Any]], ...]  # bind name -> the type's bind processor
    row: Callable[[Iterable[Any]], Any] | None  # makes the named tuple of a row (None: the statement returns no rows)
    readers: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, result processor) where it has one

    def arguments(self, params: Mapping[str, Any]) -> Any:
        """The values as the driver takes them: with the statement's own, converted, in order if positional."""
        values = self.defaults | dict(params) if self.defaults else dict(params)
        for name, process in self.binders:
            values[name] = process(values[name])
        return tuple(map(values.__getitem__, self.names)) if self.positional else values


class Prepared:
    """One Core statement, its compiled form kept per dialect."""

    __slots__ = ("_plans", "columns", "statement")

    def __init__(self, statement: ClauseElement, columns: Sequence[str] = ()) -> None:
        """`columns`: for an INSERT or UPDATE without .values(), the columns it sets (their keys are the
        bind names), as SQLAlchemy compiles it for a call with those keys."""
        self.statement = statement
        self.columns = list(columns)
        self._plans: dict[tuple[str, Any], _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        key = (dialect.name, dialect.server_version_info)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _compile(self.statement, dialect, self.columns)
        return plan

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> tuple[DBAPICursor, _Plan]:
        plan = self._plan(conn.dialect)
        cursor = _cursor(conn)
        args = plan.arguments(params)
        with as_sqlalchemy_error(conn.dialect, plan.sql, args):
            cursor.execute(plan.sql, args)
        return cursor, plan

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        cursor, plan = self._execute(conn, params)
        if plan.row is None:
            raise TypeError(f"the statement returns no rows: {plan.sql[:120]}")
        make, readers = plan.row, plan.readers
        if not readers:
            return [make(r) for r in cursor.fetchall()]
        rows = []
        for raw in cursor.fetchall():
            values = list(raw)
            for i, process in readers:  # only the columns that need it (a few booleans, times, JSON)
                values[i] = process(values[i])
            rows.append(make(values))
        return rows

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        rows = self.rows(conn, params)
        return rows[0] if rows else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """A statement returning no rows; the rows it changed."""
        cursor, _ = self._execute(conn, params)
        return cursor.rowcount

    def run_many(self, conn: Connection, many: Sequence[Mapping[str, Any]]) -> None:
        if not many:
            return
        plan = self._plan(conn.dialect)
        batch = [plan.arguments(params) for params in many]
        with as_sqlalchemy_error(conn.dialect, plan.sql, batch):
            _cursor(conn).executemany(plan.sql, batch)


class PreparedIn:
    """A statement over a list of values (`column IN (...)`, e.g. the items of a search answer), prepared.

    An IN list bound value by value has its length in the SQL, so the statement is compiled for a few
    lengths: a list is padded to the next one with its own last value (a repeat matches nothing more) and
    one longer than the longest runs in chunks. `build(binds)` makes the statement around the list's
    bind parameters; the other parameters are passed to rows() as to Prepared's.

    Chunks are separate statements: a caller grouping or ordering must do so within each value (per item,
    say), not across the whole list."""

    LENGTHS = (1, 4, 20, 100)

    __slots__ = ("_build", "_by_length")

    def __init__(self, build: Callable[[list[BindParameter[Any]]], ClauseElement]) -> None:
        self._build = build
        self._by_length: dict[int, Prepared] = {}

    def _prepared(self, length: int) -> Prepared:
        prepared = self._by_length.get(length)
        if prepared is None:
            binds: list[BindParameter[Any]] = [bindparam(f"in_{i}") for i in range(length)]
            prepared = self._by_length[length] = Prepared(self._build(binds))
        return prepared

    def rows(self, conn: Connection, values: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
        longest = self.LENGTHS[-1]
        out: list[Any] = []
        for start in range(0, len(values), longest):
            chunk = values[start:start + longest]
            length = next(n for n in self.LENGTHS if n >= len(chunk))
            last = len(chunk) - 1
            listed = {f"in_{i}": chunk[min(i, last)] for i in range(length)}
            out.extend(self._prepared(length).rows(conn, {**params, **listed}))
        return out

    def run(self, conn: Connection, values: Sequence[Any], params: Mapping[str, Any]) -> int:
        """The statement (returning no rows) over the list, chunk by chunk; the rows it changed."""
        longest = self.LENGTHS[-1]
        changed = 0
        for start in range(0, len(values), longest):
            chunk = values[start:start + longest]
            length = next(n for n in self.LENGTHS if n >= len(chunk))
            last = len(chunk) - 1
            listed = {f"in_{i}": chunk[min(i, last)] for i in range(length)}
            changed += self._prepared(length).run(conn, {**params, **listed})
        return changed


def _cursor(conn: Connection) -> DBAPICursor:
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # invalidated (a lost server); Connection.connection reconnects first, so rarely seen
        raise ResourceClosedError("the connection was invalidated")
    return dbapi.cursor()


@contextmanager
def as_sqlalchemy_error(dialect: Dialect, sql: str, params: Any) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (IntegrityError, OperationalError ...), so callers and the
    service's error handlers see one family of exceptions whichever way a statement ran."""
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise DBAPIError.instance(sql, params, exc, base, dialect=dialect) from exc


def _compile(statement: ClauseElement, dialect: Dialect, columns: list[str]) -> _Plan:
    if isinstance(statement, Insert) and not statement._returning:
        statement = statement.inline()  # no implicit RETURNING of the new id (PostgreSQL): nobody reads it
    compiled = statement.compile(dialect=dialect, column_keys=columns or None)
    if not isinstance(compiled, SQLCompiler):  # a DDL statement compiles otherwise
        raise TypeError(f"not a statement to prepare: {compiled.string[:120]}")
    if "POSTCOMPILE" in compiled.string or any(b.expanding for b in compiled.binds.values()):
        raise ValueError(f"not a statement to prepare (values rendered at execution): {compiled.string[:120]}")
    if prefetch := [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]:
        # Column defaults SQLAlchemy would compute per execution: the caller must give these values.
        raise ValueError(f"give the values of {prefetch} to prepare: {compiled.string[:120]}")
    names = compiled.bind_names  # BindParameter -> the name it has in this SQL
    if any(b.callable is not None for b in names):
        raise ValueError(f"not a statement to prepare (a value computed per execution): {compiled.string[:120]}")
    defaults = {names[b]: b.effective_value for b in names if not b.required}
    binders: list[tuple[str, Callable[[Any], Any]]] = []
    for name, bind in compiled._bind_processors.items():
        if isinstance(bind, Sequence):  # a tuple-typed bind: one processor per element
            raise ValueError(f"not a statement to prepare (a tuple-typed value): {compiled.string[:120]}")
        if bind is not None:
            binders.append((name, bind))
    result = compiled._result_columns
    # Not renamed: a column name namedtuple cannot take fails here, not as a wrong key in an audit image.
    row_type: Any = namedtuple("Row", [c.keyname for c in result]) if result else None  # field names known at run time
    row = row_type._make if row_type is not None else None
    readers = tuple((i, process) for i, c in enumerate(result)
                    if (process := c.type._cached_result_processor(dialect, None)) is not None)
    positional = bool(dialect.positional)
    return _Plan(compiled.string, tuple(compiled.positiontup or ()) if positional else (), positional, defaults,
                 tuple(binders), row, readers)
