"""`dingdian receipt import` (a supplier's delivery file, 随货同行单) and `dingdian transfer` (调拨 between the stores
of a chain): the same use cases as the API, acting as a named person (--as, their PIN asked) within their posts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings

if TYPE_CHECKING:
    from server.db.uow import Unit
    from server.services.context import Ctx

# (_settings, _engine, _ctx, _acting and _fail: the root command line's helpers, as server.cli_care reaches them)


def receipt_import(file: Annotated[Path, typer.Argument(help="the delivery file: CSV (UTF-8 or GBK) or XLSX",
                                                        exists=True, dir_okay=False)],
                   supplier: Annotated[int, typer.Option("--supplier", help="the supplier's id")],
                   dynt_no: Annotated[str, typer.Option("--dynt-no", help="随货同行单号 (if the file has none)")] = "",
                   invoice: Annotated[str, typer.Option("--invoice", help="发票号 (if the file has none)")] = "",
                   on: Annotated[str | None, typer.Option("--date", help="the day the goods came (YYYY-MM-DD)")]
                   = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """A draft receipt from a supplier's delivery file; every bad row and column named, nothing written."""
    from server import cli
    from server.services.stock import delivery_import

    try:
        day = date.fromisoformat(on) if on else None
    except ValueError as exc:
        raise _fail(exc) from exc
    data = file.read_bytes()
    rid = _run(config, as_user, "receipt.write", lambda u, ctx: int(delivery_import.import_delivery(
        u, ctx, supplier, data, dynt_no, invoice, day).id or 0))
    settings = _settings(config)
    typer.echo(cli._receipt_text(rid, settings, cli._engine(settings)))


def _run(config: Path | None, as_user: str | None, action: str, work: Callable[[Unit, Ctx], Any]) -> Any:
    """The work in one unit, as the named person; a refusal printed problem by problem (a rule's, or a file's row
    and column) and the exit code 1."""
    from server.db.uow import core_unit
    from server.errors import AppError

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, action)
    try:
        with core_unit(engine) as u:
            return work(u, ctx)
    except AppError as exc:
        for v in exc.details.get("violations", []):
            typer.echo(f"✗ [{v['code']}] {v['message_zh']} / {v['message_en']}", err=True)
        for e in exc.details.get("errors", []):
            where = f"第 {e['row']} 行「{e['column'] or '-'}」" if e["row"] else "文件"
            typer.echo(f"✗ {where} {e['message_zh']} / {e['message_en']}", err=True)
        raise _fail(exc) from exc


def register(root: typer.Typer) -> None:
    """Adds the commands to the root command line (server.cli): `import` under `receipt`."""
    for group in root.registered_groups:
        if group.name == "receipt" and group.typer_instance is not None:
            group.typer_instance.command("import")(receipt_import)
