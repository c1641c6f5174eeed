"""Restore a backup into a new database and verify it before it can be used.

The backup is restored under a staging name (`.NAME.restoring` beside a SQLite target; `NAME__restoring` for a
PostgreSQL database), checked — the file against its checksum, the schema head, every table's row count and each
store's audit chain (links, the head written in the manifest as an anchor, every business row against its image,
the balances against the ledger) — and only then given its name. A restore that fails verification leaves nothing
under the target's name.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from server import audit
from server.backup import archive, tools
from server.backup.archive import BadBackup, Manifest
from server.backup.take import facts
from server.db.engine import make_engine
from server.db.revisions import head_revision
from server.errors import AppError

MAX_PROBLEMS = 50  # per store's chain: the first ones name what is wrong; the count says how much


@dataclass
class RestoreReport:
    file: str
    target: str  # where it was restored (never with a password)
    sha256: str = ""
    manifest: Manifest | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def _problem(kind: str, zh: str, en: str, **details: Any) -> dict[str, Any]:
    return {"kind": kind, "message_zh": zh, "message_en": en, **details}


def shown_target(target: str) -> str:
    return make_url(target).render_as_string(hide_password=True) if "://" in target else target


def restore(path: Path, target: str, key: bytes | None = None) -> RestoreReport:
    """Restores `path` into `target` (a file path for a SQLite backup, a postgresql+psycopg:// URL naming a database
    that does not exist yet for a PostgreSQL one), opening it with `key` when it is sealed. The report says what
    was checked and what failed."""
    started = time.monotonic()
    report = RestoreReport(path.name, shown_target(target))
    try:
        report.sha256 = archive.check_file(path)
        report.manifest = manifest = archive.read_manifest(path, key)
        if manifest.backend == "sqlite":
            _sqlite(path, manifest, target, report, key)
        else:
            _postgresql(path, manifest, target, report, key)
    except BadBackup as exc:
        report.problems.append(_problem("backup", exc.message_zh, exc.message_en))
    except AppError as exc:
        report.problems.append(_problem(exc.code, exc.message_zh, exc.message_en))
    report.elapsed_ms = int((time.monotonic() - started) * 1000)
    return report


def verify(engine: Engine, manifest: Manifest, report: RestoreReport) -> None:
    """The restored database against the manifest, and each store's audit chain against itself."""
    with engine.connect() as conn:
        revision, rows, heads = facts(conn)
    if revision != manifest.revision:
        report.problems.append(_problem("revision", f"数据库结构版本 {revision} 与备份清单的 {manifest.revision} 不符",
                                        f"schema revision {revision}, the manifest says {manifest.revision}"))
    if manifest.revision != head_revision():
        report.notes.append(f"备份的数据库结构为 {manifest.revision}，本程序为 {head_revision()}：启用前须 dingdian db upgrade / "
                            f"the backup's schema is {manifest.revision}, this program's {head_revision()}: "
                            "run `dingdian db upgrade` on it before use")
    for table, count in sorted(manifest.rows.items()):
        if rows.get(table) != count:
            report.problems.append(_problem("rows", f"表 {table} 有 {rows.get(table)} 行，备份时为 {count} 行",
                                            f"{table} has {rows.get(table)} rows, {count} when backed up",
                                            table=table, found=rows.get(table), expected=count))
    for table in sorted(set(rows) - set(manifest.rows)):
        report.problems.append(_problem("rows", f"多出备份时没有的表 {table}", f"a table not in the backup: {table}",
                                        table=table))
    for store_id, head in sorted(manifest.audit_heads.items()):
        if heads.get(store_id) != head:
            report.problems.append(_problem("audit_head", f"门店 {store_id} 审计链头与备份清单不符",
                                            f"store {store_id}'s audit head is not the manifest's",
                                            store_id=int(store_id), found=heads.get(store_id), expected=head))
        with Session(engine) as s:
            checked = audit.verify(s, int(store_id), [audit.Anchor.parse(head)])
        for p in checked.problems[:MAX_PROBLEMS]:
            report.problems.append({"kind": "audit", "store_id": int(store_id), **p})
        if len(checked.problems) > MAX_PROBLEMS:
            report.problems.append(_problem("audit", f"另有 {len(checked.problems) - MAX_PROBLEMS} 处审计问题",
                                            f"{len(checked.problems) - MAX_PROBLEMS} more audit problems"))


def _sqlite(path: Path, manifest: Manifest, target: str, report: RestoreReport, key: bytes | None) -> None:
    final = Path(make_url(target).database or "" if target.startswith("sqlite:") else target).expanduser().resolve()
    report.target = str(final)
    if final.exists():
        raise AppError(409, "SEC-05", f"{final} 已存在：恢复只写入新的数据库", f"{final} exists: a restore only "
                       "writes a new database", {"target": str(final)})
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.restoring")
    staging.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".restore-") as tmp:
        packed = Path(tmp) / manifest.payload
        with packed.open("wb") as out:
            archive.extract_payload(path, manifest, out, key)
        with gzip.open(packed, "rb") as f, staging.open("wb") as out:
            shutil.copyfileobj(f, out, archive.CHUNK)
    engine = make_engine(f"sqlite:///{staging}")
    try:
        verify(engine, manifest, report)
    finally:
        engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{staging}{suffix}").unlink(missing_ok=True)  # dispose checkpointed the WAL
    if report.problems:
        staging.unlink(missing_ok=True)
        return
    staging.rename(final)


def _postgresql(path: Path, manifest: Manifest, target: str, report: RestoreReport, key: bytes | None) -> None:
    import psycopg  # the PostgreSQL driver, only where a PostgreSQL backup is restored

    url = make_url(target)
    name = url.database or ""
    if url.get_backend_name() != "postgresql" or not name:
        raise AppError(422, "SEC-05", "PostgreSQL 备份须恢复到 postgresql+psycopg://…/新库名",
                       "a PostgreSQL backup restores into postgresql+psycopg://…/NEW_DATABASE", {"target": target})
    staging = f"{name}__restoring"
    admin_url, env = tools.libpq(url.set(database="postgres"))
    with psycopg.connect(admin_url, autocommit=True, password=env.get("PGPASSWORD")) as admin:
        exists = admin.execute("SELECT datname FROM pg_database WHERE datname IN (%s, %s)", (name, staging)).fetchall()
        if any(row[0] == name for row in exists):
            raise AppError(409, "SEC-05", f"数据库 {name} 已存在：恢复只写入新的数据库",
                           f"database {name} exists: a restore only writes a new database", {"target": name})
        admin.execute(f'DROP DATABASE IF EXISTS "{staging}"')
        admin.execute(f'CREATE DATABASE "{staging}"')
    staged_url = url.set(database=staging)
    with tempfile.TemporaryDirectory(prefix="dingdian-restore-") as tmp:
        dump = Path(tmp) / manifest.payload
        with dump.open("wb") as out:
            archive.extract_payload(path, manifest, out, key)
        libpq_url, env = tools.libpq(staged_url)
        tools.run([tools.pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--no-password",
                   "--dbname", libpq_url, str(dump)], env, "pg_restore 恢复")
    engine = make_engine(staged_url.render_as_string(hide_password=False))
    try:
        verify(engine, manifest, report)
    finally:
        engine.dispose()
    with psycopg.connect(admin_url, autocommit=True, password=env.get("PGPASSWORD")) as admin:
        if report.problems:
            admin.execute(f'DROP DATABASE IF EXISTS "{staging}"')
        else:
            admin.execute(f'ALTER DATABASE "{staging}" RENAME TO "{name}"')
