"""The use cases: take a backup now (the CLI, cron, the service's daily run), drill a restore, and read the last of
each for the checklist. Each backup and each drill is a row, audited in the same transaction, success or not."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import audit
from server.backup import keys, retention
from server.backup.archive import BadBackup, read_manifest
from server.backup.placement import check_placement
from server.backup.restore import RestoreReport, restore
from server.backup.take import Taken, file_name, take
from server.db.models import BackupRun, RestoreDrill
from server.db.types import business_day
from server.db.uow import core_unit, orm
from server.errors import AppError
from server.services.context import Ctx

log = logging.getLogger("dingdian.backup")


@dataclass(frozen=True)
class BackupDone:
    run: BackupRun
    taken: Taken
    deleted: list[str]


def backup_now(engine: Engine, ctx: Ctx, taken_by: str, directory: Path | None = None) -> BackupDone:
    """One backup into `directory` (default: `[backup] dir`), recorded; then the retention policy applied. A failed
    backup is recorded as failed and raised (AppError, in Chinese and English)."""
    configured = directory or (Path(ctx.settings.backup.dir) if ctx.settings.backup.dir else None)
    if configured is None:
        raise AppError(422, "SEC-05", "未配置备份目录（config.toml [backup] dir）",
                       "no backup directory is configured ([backup] dir in config.toml)", {})
    started = ctx.now
    try:
        where = check_placement(configured, engine)
        code = ctx.settings.store.fixmedins_code
        at = started
        while (where / file_name(code, at)).exists():  # two backups in one second: the second a second later
            at = at.replace(microsecond=0) + timedelta(seconds=1)
        key = keys.load(ctx.settings.backup.key_file, where)
        taken = take(engine, where, code, at, key)
    except (AppError, BadBackup, OSError) as exc:
        zh, en = ((exc.message_zh, exc.message_en) if isinstance(exc, AppError | BadBackup) else
                  (f"备份失败：{exc}", f"backup failed: {exc}"))
        _record_run(engine, ctx, BackupRun(
            store_id=ctx.store_id, started_at=started, finished_at=datetime.now(UTC), business_date=ctx.today,
            backend=engine.dialect.name, directory=str(configured), error=f"{zh} / {en}"[:400], taken_by=taken_by))
        if isinstance(exc, AppError):
            raise
        raise AppError(500, "SEC-05", zh, en, {"directory": str(configured)}) from exc
    run = _record_run(engine, ctx, BackupRun(
        store_id=ctx.store_id, started_at=started, finished_at=datetime.now(UTC), business_date=ctx.today,
        backend=taken.manifest.backend, file_name=taken.path.name, directory=str(where), size_bytes=taken.size,
        sha256=taken.sha256, revision=taken.manifest.revision,
        audit_head=taken.manifest.audit_heads.get(str(ctx.store_id), ""), ok=True, taken_by=taken_by,
        sealed=key is not None))
    return BackupDone(run, taken, prune(ctx, where, keys.load(ctx.settings.backup.key_file)))


def prune(ctx: Ctx, directory: Path, key: bytes | None = None) -> list[str]:
    """Deletes the backups (and their checksums) the retention policy no longer keeps; returns their names. A
    backup sealed with another key is not read, so never deleted here."""
    tz, found = ctx.settings.store.tz, []
    for path in directory.glob(f"dingdian-{ctx.settings.store.fixmedins_code}-*.tar"):
        try:
            found.append((path.name, read_manifest(path, key).taken_at.astimezone(tz)))
        except BadBackup:
            continue  # not ours to delete
    policy = ctx.settings.backup
    doomed = retention.to_delete(found, ctx.today, policy.keep_days, policy.keep_months)
    for name in doomed:
        (directory / name).unlink(missing_ok=True)
        (directory / f"{name}.sha256").unlink(missing_ok=True)
    if doomed:
        log.info("backup retention deleted %s", ", ".join(doomed))
    return doomed


def drill(engine: Engine, ctx: Ctx, path: Path, target: str,
          key_file: str | Path | None = None) -> tuple[RestoreDrill, RestoreReport]:
    """Restores `path` into `target` and records the drill (who, when, the result, what failed) in this store's
    database — the live one, where the checklist looks. A sealed backup is opened with `key_file` (default:
    `[backup] key_file`); a key file that cannot be read is refused before anything is restored (AppError)."""
    report = restore(path, target, keys.load(ctx.settings.backup.key_file if key_file is None else key_file))
    manifest = report.manifest
    row = RestoreDrill(store_id=ctx.store_id, at=ctx.now, business_date=ctx.today, backup_file=path.name,
                       backup_sha256=report.sha256, target=report.target[:400],
                       backup_taken_at=manifest.taken_at if manifest else None, ok=report.ok,
                       problems=report.problems[:100], elapsed_ms=report.elapsed_ms, drilled_by=ctx.actor_id)
    with core_unit(engine) as u:
        orm(u).add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "backup.drill", row,
                         note=f"{path.name} → {report.target}: {'通过 passed' if report.ok else '未通过 failed'}")
    return row, report


def _record_run(engine: Engine, ctx: Ctx, row: BackupRun) -> BackupRun:
    with core_unit(engine) as u:
        orm(u).add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "backup.run", row,
                         note=row.file_name if row.ok else row.error[:200])
    return row


def last_backup(s: Session, store_id: int) -> BackupRun | None:
    return s.exec(select(BackupRun).where(BackupRun.store_id == store_id, col(BackupRun.ok))
                  .order_by(col(BackupRun.id).desc()).limit(1)).first()


def last_drill(s: Session, store_id: int) -> RestoreDrill | None:
    return s.exec(select(RestoreDrill).where(RestoreDrill.store_id == store_id, col(RestoreDrill.ok))
                  .order_by(col(RestoreDrill.id).desc()).limit(1)).first()


def drill_due(s: Session, ctx: Ctx) -> date | None:
    """The day the next drill is due by (None: never drilled — due now)."""
    last = last_drill(s, ctx.store_id)
    if last is None:
        return None
    return business_day(last.at, ctx.settings.store.tz) + timedelta(days=ctx.settings.backup.drill_every_days)
