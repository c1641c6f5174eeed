"""`dingdian backup` and `dingdian restore` (SEC-05): a consistent backup while the store sells (cron may run it:
no PIN asked, the login recorded as who took it), and a restore into a new database, verified and recorded as a
drill by a named person (--as, their PIN asked); `dingdian backup-key` makes the key backups are sealed with."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings


def register(root: typer.Typer) -> None:
    root.command("backup")(backup)
    root.command("restore")(restore)
    root.command("backup-key")(backup_key)


def backup_key(out: Annotated[Path, typer.Option("--out", help="the new key file (never inside the backup directory)")],
               config: ConfigOpt = None) -> None:
    """Make a new backup key (备份密钥, AES-256-GCM) in FILE, readable by its owner only; set it as [backup]
    key_file. Keep a copy away from the database's disk: without it no sealed backup can be restored."""
    from server.backup import keys, sealed
    from server.errors import AppError

    settings = _settings(config)
    try:
        keys.check_apart(out, Path(settings.backup.dir) if settings.backup.dir else None)
        key = keys.create(out)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"备份密钥已写入 / backup key written: {out} (key id {sealed.key_id(key)})")
    typer.echo("  在 config.toml [backup] key_file 中设置它；另存一份于数据库磁盘之外（纸上或保险柜中的U盘）。")
    typer.echo("  Set it as [backup] key_file in config.toml; keep a copy away from the database's disk (on paper, "
               "or a USB key in the safe).")


def backup(config: ConfigOpt = None,
           directory: Annotated[Path | None, typer.Option("--dir", help="this time, into DIR (default: dir of the backup section in config.toml)")]
           = None) -> None:
    """Take a backup now: compressed, checksummed, the audit chain's head in its manifest (备份)."""
    from server.backup.runs import backup_now
    from server.errors import AppError

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    try:
        done = backup_now(engine, ctx, f"cli:{getpass.getuser()}", directory)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    m = done.taken.manifest
    typer.echo(f"备份完成 / backup written: {done.taken.path}")
    if settings.backup.key_file:
        typer.echo("  已加密 / encrypted (AES-256-GCM)")
    else:
        typer.echo("  未加密：config.toml [backup] key_file 未设置 / NOT encrypted: no [backup] key_file", err=True)
    typer.echo(f"  {done.taken.size:,} bytes · sha256 {done.taken.sha256} · schema {m.revision} · "
               f"audit head {m.audit_heads.get(str(ctx.store_id), '-')} · {sum(m.rows.values()):,} rows")
    for name in done.deleted:
        typer.echo(f"  按保留策略删除 / deleted by the retention policy: {name}")


def restore(file: Annotated[Path, typer.Argument(help="the backup file (.tar)", exists=True, dir_okay=False)],
            into: Annotated[str, typer.Option("--into", help="a new SQLite file, or postgresql+psycopg://…/NEW_DB")],
            config: ConfigOpt = None, as_user: AsOpt = None,
            key_file: Annotated[Path | None, typer.Option("--key-file", help="the backup key (default: [backup] key_file)")]
            = None) -> None:
    """Restore a backup into a NEW database, verify it (schema, row counts, audit chain, balances) and record the
    drill (恢复演练). Exits non-zero when the backup does not verify."""
    from server.backup.runs import drill
    from server.errors import AppError
    from server.permissions import Action

    settings = _settings(config)
    engine = _engine(settings)
    try:
        acting = _acting(engine, _ctx(settings, engine), as_user, Action.BACKUP_DRILL.value)
        row, report = drill(engine, acting, file, into, key_file)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    for note in report.notes:
        typer.echo(f"  注意 / note: {note}")
    if report.ok:
        typer.echo(f"恢复并核验通过 / restored and verified: {report.target} ({report.elapsed_ms} ms; drill #{row.id})")
        return
    typer.echo(f"恢复未通过核验，未启用 / the restore did not verify and was not put in place: {report.target}", err=True)
    for p in report.problems[:20]:
        typer.echo(f"  [{p.get('kind')}] {p.get('message_zh', '')} / {p.get('message_en', '')}", err=True)
    raise typer.Exit(1)
