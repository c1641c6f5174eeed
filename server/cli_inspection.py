"""`dingdian inspection export|verify` (ST-08): the period's records in one archive for an inspector, and its
check. The export acts as a named person (--as, their PIN asked): the store manager or the 医保 administrator;
`--for-agency` (identity numbers in full) only the 医保 administrator. Both are audited."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.toml to use (default: ./config.toml)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who runs the command: your username (your PIN is asked)")]

inspection_app = typer.Typer(help="The inspection export (检查导出, ST-08): one archive of a period, and its check.",
                             no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds `inspection` to the root command line (server.cli)."""
    root.add_typer(inspection_app, name="inspection")


@inspection_app.command("export")
def export(start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first business date")],
           end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last business date")],
           for_agency: Annotated[bool, typer.Option("--for-agency", help="identity numbers in full: for the agency "
                                                    "(医保管理员 only)")] = False,
           out: Annotated[Path | None, typer.Option("--out", "-o", help="the archive to write (default: "
                                                    "./inspection-FROM-TO.zip)")] = None,
           config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Dispensing records, prescriptions with their scans, reviews, purchase lists, receipt stubs, settlements,
    the 进销存 and the audit log of the period, with a manifest (size, SHA-256, rows) and the audit chain's head."""
    from server import cli
    from server.permissions import Action
    from server.services.inspection import archive

    first, last = date(start.year, start.month, start.day), date(end.year, end.month, end.day)
    if last < first:
        typer.echo("截止日期早于起始日期 / the period ends before it starts", err=True)
        raise typer.Exit(2)
    settings = cli._settings(config)
    engine = cli._engine(settings)
    action = Action.INSPECTION_AGENCY if for_agency else Action.INSPECTION_EXPORT
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user, action.value)
    target = out or Path(f"inspection-{first.isoformat()}-{last.isoformat()}{'-agency' if for_agency else ''}.zip")
    built = archive.export(engine, ctx, first, last, target, for_agency,
                           "dingdian inspection export" + (" --for-agency" if for_agency else ""))
    for f in built.manifest["files"]:
        rows = f" {f['rows']} 行/rows" if "rows" in f else ""
        typer.echo(f"  {f['name']}  {f['size']} B{rows}  {f['sha256'][:16]}")
    head = built.manifest["audit_head"]
    typer.echo(f"审计链头 / audit head: #{head['seq']} {head['hash'][:16]}")
    typer.echo(f"已写入 / written: {built.path} ({'身份证号完整，供经办机构' if for_agency else '身份证号已脱敏'})")


@inspection_app.command("verify")
def verify(archive_path: Annotated[Path, typer.Argument(metavar="ARCHIVE", help="an inspection archive (.zip)")]) -> None:
    """Every file against the manifest: a changed, missing or added file is named (exit 1)."""
    from server.services.inspection import archive

    checked = archive.verify(archive_path)
    for p in checked.problems:
        typer.echo(f"✗ [{p['kind']}] {p['zh']} / {p['en']}", err=True)
    if not checked.ok:
        raise typer.Exit(1)
    m = checked.manifest or {}
    typer.echo(f"✓ {len(m.get('files', []))} 个文件与清单一致 / files match the manifest: {m.get('from')} — "
               f"{m.get('to')}, 审计链头 / audit head #{m.get('audit_head', {}).get('seq')}")
    typer.echo(f"清单摘要 / manifest SHA-256: {checked.manifest_sha256} (与审计日志 inspection.export 记录核对 / compare "
               "with the export's audit entry)")
