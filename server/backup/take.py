"""A consistent online backup while the store goes on selling.

SQLite: the online backup API copies the database in one step inside one read transaction, so the copy is the
database as of one commit (WAL: the writers are not held up). PostgreSQL: a repeatable-read transaction exports its
snapshot; pg_dump dumps that snapshot and the manifest's counts and heads are read in it, so the three agree.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url

from server.backup import archive, tools
from server.backup.archive import Manifest
from server.db.revisions import VERSION_TABLE


@dataclass(frozen=True)
class Taken:
    path: Path
    sha256: str
    size: int
    manifest: Manifest


def file_name(store_code: str, at: datetime) -> str:
    return f"dingdian-{store_code}-{at:%Y%m%dT%H%M%SZ}.tar"


def take(engine: Engine, directory: Path, store_code: str, at: datetime, key: bytes | None = None) -> Taken:
    """Writes one backup into `directory` (placement checked by the caller), sealed with `key` when one is given,
    and returns it."""
    target = directory / file_name(store_code, at)
    backend = engine.dialect.name
    # The clear copy is made on the database's side when the backup is sealed: on the backup's disk (a share, a
    # USB disk) even a deleted clear copy may be read back.
    with tempfile.TemporaryDirectory(dir=directory if key is None else _scratch(engine), prefix=".backup-") as tmp:
        payload = Path(tmp) / archive.PAYLOAD[backend]
        if backend == "sqlite":
            revision, rows, heads = _sqlite(engine, Path(tmp), payload)
        else:
            revision, rows, heads = _postgresql(engine, payload)
        manifest = Manifest(created_at=at.isoformat(), backend=backend, revision=revision, audit_heads=heads,
                            rows=rows, payload=payload.name, payload_sha256=archive.sha256_of(payload),
                            payload_bytes=payload.stat().st_size, store_code=store_code)
        whole = archive.write(target, manifest, payload, key)
    return Taken(target, whole, target.stat().st_size, manifest)


def _scratch(engine: Engine) -> Path | None:
    """Beside the SQLite database (room for a copy of it); the system's temporary directory for PostgreSQL."""
    if engine.dialect.name == "sqlite":
        return Path(make_url(str(engine.url)).database or "").resolve().parent
    return None


def facts(conn: Connection) -> tuple[str, dict[str, int], dict[str, str]]:
    """The schema head, every table's row count and each store's audit head, as this connection's snapshot sees
    them (the backup writes them into its manifest; a restore reads them again to compare)."""
    tables = sorted(t for t in inspect(conn).get_table_names() if t != VERSION_TABLE)
    rows = {t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()) for t in tables}
    revision = str(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one())
    heads = {str(r.store_id): f"{r.seq}:{r.hash}"
             for r in conn.execute(text("SELECT store_id, seq, hash FROM audit_head ORDER BY store_id"))}
    return revision, rows, heads


def _sqlite(engine: Engine, tmp: Path, payload: Path) -> tuple[str, dict[str, int], dict[str, str]]:
    source = Path(make_url(str(engine.url)).database or "")
    copy = tmp / "copy.sqlite3"
    src, dst = sqlite3.connect(source, timeout=60), sqlite3.connect(copy)
    try:
        src.backup(dst)  # pages=-1: the whole database in one step, one snapshot
    finally:
        src.close()
        dst.close()
    from sqlalchemy import create_engine

    reader = create_engine(f"sqlite:///{copy}")
    try:
        with reader.connect() as conn:
            found = facts(conn)
    finally:
        reader.dispose()
    with copy.open("rb") as f, gzip.open(payload, "wb", compresslevel=6) as out:
        shutil.copyfileobj(f, out, archive.CHUNK)
    return found


def _postgresql(engine: Engine, payload: Path) -> tuple[str, dict[str, int], dict[str, str]]:
    url, env = tools.libpq(engine.url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            found = facts(conn)
            # the transaction stays open while pg_dump reads its exported snapshot
            tools.run([tools.pg_tool("pg_dump"), "--format=custom", "--no-password", f"--snapshot={snapshot}",
                       "--file", str(payload), "--dbname", url], env, "pg_dump 备份")
    return found
