"""The schema is built only by Alembic: the migrated database and the models agree, on both backends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import server.db.models  # noqa: F401
from server.app import create_app
from server.config import ROOT, load_settings
from server.db import migrate, revisions
from server.db.engine import make_engine
from server.db.migrate import current_revision, head_revision
from server.db.revisions import SchemaOutOfDate


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


# --- where the database stands, read without Alembic (server.db.revisions) -------------------------------------


def test_the_revisions_read_without_alembic_are_alembics(tmp_path: Path) -> None:
    """The start-up check and /health read the head off the scripts' lines and the revision off alembic_version:
    the same answers Alembic gives, before the first upgrade, part-way and at the head."""
    assert revisions.head_revision() == migrate.alembic_head() != ""
    engine = make_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    try:
        assert revisions.current_revision(engine) is None and migrate.alembic_current(engine) is None
        migrate.upgrade(engine, "0008")
        assert revisions.current_revision(engine) == migrate.alembic_current(engine) == "0008"
        migrate.upgrade(engine)
        assert revisions.current_revision(engine) == migrate.alembic_current(engine) == revisions.head_revision()
    finally:
        engine.dispose()


def test_the_service_refuses_a_database_behind_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0008")
        with pytest.raises(SchemaOutOfDate, match=r"0008.*dingdian db upgrade"):
            create_app(load_settings(ROOT / "config.toml", database={"url": url}))
        migrate.upgrade(engine)
        revisions.require_head(engine)  # at the head: no refusal
    finally:
        engine.dispose()


def test_a_history_its_lines_cannot_settle_is_left_to_alembic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge whose down_revision spans lines reads as two heads: the answer is then Alembic's, never a guess."""
    versions = tmp_path / "versions"
    shutil.copytree(revisions.VERSIONS, versions)
    head = revisions.head_revision()  # the merge joins the real head (whichever migration it is) and a branch
    (versions / "0099_merge.py").write_text(f"revision = '0099'\ndown_revision = (\n    '{head}',\n    'b0010',\n)\n",
                                            encoding="utf-8")
    (versions / "b0010_branch.py").write_text("revision = 'b0010'\ndown_revision = '0008'\n", encoding="utf-8")
    monkeypatch.setattr(revisions, "VERSIONS", versions)
    monkeypatch.setattr(migrate, "alembic_head", lambda: "alembic's answer")
    assert revisions.head_revision() == "alembic's answer"
    (versions / "0099_merge.py").write_text(f"revision = '0099'\ndown_revision = ('{head}', 'b0010')\n", encoding="utf-8")
    assert revisions.head_revision() == "0099"  # on one line it is read as Alembic would
