"""Alembic, driven from code: the demo, the tests and a store's upgrade all build the schema this way.

Where the database stands (its revision, the head, the start-up check) is read without Alembic in
server.db.revisions; its names are here too, where callers have always found them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from server.db.revisions import SchemaOutOfDate, current_revision, head_revision, require_head

__all__ = ["MIGRATIONS", "SchemaOutOfDate", "alembic_config", "alembic_current", "alembic_head", "current_revision",
           "head_revision", "require_head", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def alembic_head() -> str:
    """The head as Alembic computes it, running the scripts (server.db.revisions reads their lines)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def alembic_current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
