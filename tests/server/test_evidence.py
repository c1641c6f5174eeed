"""server.evidence classifies every table: verified by `audit verify` (row by row, derived, the chain) and/or
guarded by the database, or says why not. A table added to the schema without a line there fails here; so does
a line that does not match what verify reads or the triggers the head revision has (ST-02, SEC-04)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

import server.db.models  # noqa: F401  (every table registered)
from server import audit, evidence
from server.evidence import TABLES, Verified


def test_every_table_of_the_schema_is_classified() -> None:
    schema = set(SQLModel.metadata.tables)
    assert not schema - set(TABLES), f"tables with no line in server.evidence.TABLES: {sorted(schema - set(TABLES))}"
    assert not set(TABLES) - schema, f"server.evidence names tables the schema lacks: {sorted(set(TABLES) - schema)}"


def test_a_table_neither_guarded_nor_verified_says_why() -> None:
    for table, e in TABLES.items():
        if e.verified is Verified.NONE or set(e.guards) != {"update", "delete"}:
            assert e.why.strip(), f"{table}: not guarded or not verified, and no reason given"
        assert set(e.guards) <= {"update", "delete"}, table
        assert not e.since or e.verified is Verified.ROWS, table


def test_verify_reads_row_by_row_exactly_the_tables_classified_so() -> None:
    assert set(audit.ROW_AUDITED) == set(evidence.tables(Verified.ROWS))
    for table, model in audit.ROW_AUDITED.items():
        assert "id" in model.model_fields and ("store_id" in model.model_fields or table == "store"), table


def test_verify_checks_every_derived_table() -> None:
    """A DERIVED table is one _verify_derived names (its problems carry the table)."""
    import inspect

    source = inspect.getsource(audit)
    for table in evidence.tables(Verified.DERIVED):
        assert f'"table": "{table}"' in source, f"audit verify checks nothing of {table}"


def test_every_guard_is_in_place_at_the_head_revision(engine: Engine) -> None:
    """Both backends (the engine fixture): each guarded table has its triggers, and no other has one."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        else:
            names = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    wanted = {f"guard_{t}_{what}" for t, e in TABLES.items() for what in e.guards}
    assert wanted <= names, sorted(wanted - names)
    assert {n for n in names if n.startswith("guard_")} == wanted


@pytest.mark.parametrize("table", [t for t, e in TABLES.items() if not e.guards])
def test_an_unguarded_table_is_reference_data(table: str) -> None:
    assert TABLES[table].verified is Verified.ROWS and "reference data" in TABLES[table].why


@pytest.mark.refuses("ST-02", "SEC-04")
def test_a_store_upgraded_to_0016_counts_its_older_messages_as_legacy(engine: Engine, ctx: Any, clock: Any) -> None:
    """Messages logged before migration 0016 were not imaged: legacy (counted, not judged); one slipped in after
    the upgrade is named."""
    from alembic import command

    from server.db.migrate import alembic_config, upgrade
    from server.db.uow import read_session
    from tests.conftest import seed_shop

    seed_shop(engine, ctx)
    insert = text("INSERT INTO insurance_message (store_id, msgid, infno, direction, at, body, outcome, err_msg, "
                  "inf_refmsgid, opter, elapsed_ms) VALUES (:s, :m, '9001', 'out', :at, '{}', 'sent', '', '', 'x', "
                  "NULL)")
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    with engine.begin() as conn:  # as the message log before 0016 wrote a row: no image of it
        conn.execute(insert, {"s": ctx.store_id, "m": "old", "at": clock.now})
    upgrade(engine)
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems
    assert report.legacy_rows == 1
    with engine.begin() as conn:  # after the upgrade, the same is tampering
        conn.execute(insert, {"s": ctx.store_id, "m": "new", "at": clock.now})
    with read_session(engine) as s:
        report = audit.verify(s, ctx.store_id)
    assert [(p["kind"], p["table"]) for p in report.problems] == [("unaudited_row", "insurance_message")]
