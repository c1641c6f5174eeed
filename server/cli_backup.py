"""`dingdian backup` and `dingdian restore` (SEC-05): a consistent backup while the store sells (cron may run it:
no PIN asked, the login recorded as who took it), and a restore into a new database, verified and recorded as a
drill by a named person (--as, their PIN asked)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings


def register(root: typer.Typer) -> None:
    root.command("backup")(backup)
    root.command("restore")(restore)


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
    typer.echo(f"  {done.taken.size:,} bytes · sha256 {done.taken.sha256} · schema {m.revision} · "
               f"audit head {m.audit_heads.get(str(ctx.store_id), '-')} · {sum(m.rows.values()):,} rows")
    for name in done.deleted:
        typer.echo(f"  按保留策略删除 / deleted by the retention policy: {name}")


def restore(file: Annotated[Path, typer.Argument(help="the backup file (.tar)", exists=True, dir_okay=False)],
            into: Annotated[str, typer.Option("--into", help="a new SQLite file, or postgresql+psycopg://…/NEW_DB")],
            config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Restore a backup into a NEW database, verify it (schema, row counts, audit chain, balances) and record the
    drill (恢复演练). Exits non-zero when the backup does not verify."""
    from server.backup.runs import drill
    from server.permissions import Action

    settings = _settings(config)
    engine = _engine(settings)
    try:
        acting = _acting(engine, _ctx(settings, engine), as_user, Action.BACKUP_DRILL.value)
        row, report = drill(engine, acting, file, into)
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
