"""Where the database stands against the migrations, read without Alembic.

The service checks this at every start and on every GET /health. Through Alembic that meant importing it
(with Mako and Pygments) and running every migration script to learn their ids: about a fifth of a second
of each start. The head is read from the scripts' `revision` / `down_revision` lines instead, and the
database's revision from the table Alembic keeps; Alembic itself (server.db.migrate) is loaded only to
upgrade, or to settle a history these lines cannot (a merge written over several lines).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default; env.py names no other
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""['"]([^'"]+)['"]""")


class SchemaOutOfDate(RuntimeError):
    """The database is not at the migrations head: the service refuses to start on it."""


def head_revision() -> str:
    """The newest migration: the one revision no script names as its down_revision."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        for name, value in _ASSIGNMENT.findall(script.read_text(encoding="utf-8")):
            (revisions if name == "revision" else downs).update(_QUOTED.findall(value))
    heads = revisions - downs
    if len(heads) == 1:
        return heads.pop()
    from server.db import migrate  # a branched or unusual history: Alembic says what its head is

    return migrate.alembic_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database was last upgraded to; None before its first upgrade."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(versions) > 1:
        from server.db import migrate  # several heads recorded: Alembic's own reading refuses it in its words

        return migrate.alembic_current(engine)
    return versions[0] if versions else None


def require_head(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(f"数据库结构不是最新版本（{current} ≠ {head}），请先运行 dingdian db upgrade / "
                              f"the database schema is at {current}, not {head}: run `dingdian db upgrade` first")
