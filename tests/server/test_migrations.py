"""The schema is built only by Alembic: the migrated database and the models agree, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import server.db.models  # noqa: F401
from server.db.migrate import current_revision, head_revision


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diffs = compare_metadata(ctx, SQLModel.metadata)
    assert diffs == []


def test_every_business_table_carries_a_store_id(engine: Engine) -> None:
    """Chain mode: every business row belongs to one store."""
    tables = set(inspect(engine).get_table_names()) - {"alembic_version", "store"}
    for table in sorted(tables):
        cols = {c["name"] for c in inspect(engine).get_columns(table)}
        assert "store_id" in cols, f"{table} has no store_id"


def test_money_columns_are_integers(engine: Engine) -> None:
    """Money is never float: every *_fen column is an integer type."""
    insp = inspect(engine)
    for table in insp.get_table_names():
        for col in insp.get_columns(table):
            if col["name"].endswith("_fen"):
                assert col["type"].python_type is int, f"{table}.{col['name']} is {col['type']}"
