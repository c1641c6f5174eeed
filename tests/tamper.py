"""Editing the ledger behind the service's back, as a determined user with the database's keys would.

The ledger's tables refuse UPDATE and DELETE at the database (migration 0011's guard triggers). Whoever owns
the database can lift that guard first; `behind_the_guard` does so for the tables named, for one transaction,
and puts it back. Tests use it to show that `audit verify` still names the edit, and (a few) to set up a
state no use case makes, such as a sale dated yesterday.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from server.db.uow import core_unit


@contextmanager
def behind_the_guard(engine: Engine, *tables: str) -> Iterator[Connection]:
    with core_unit(engine) as unit:  # a writer's transaction (SQLite: BEGIN IMMEDIATE, waiting its turn)
        conn = unit.connection()
        if conn.dialect.name == "postgresql":
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        triggers = [(name, sql) for name, sql, table in conn.execute(text(
            "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'trigger'")).all() if table in tables]
        for name, _ in triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        yield conn
        for _, sql in triggers:
            conn.exec_driver_sql(sql)
