"""`dingdian period close|closes|reopen` (月结, ST-01): the store manager closes a month from the command line as
through the API (--as, their PIN asked); the closed periods listed; a reopening answered with why not."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.toml to use (default: ./config.toml)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who runs the command: your username (your PIN is asked)")]

period_app = typer.Typer(help="The period close (月结): snapshot and lock a month; never reopened.",
                         no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds `period` to the root command line (server.cli)."""
    root.add_typer(period_app, name="period")


def _refused(exc: Exception) -> typer.Exit:
    from server import cli

    for v in getattr(exc, "details", {}).get("violations", []):
        typer.echo(f"✗ [{v['code']}] {v['message_zh']} / {v['message_en']}", err=True)
    return cli._fail(exc)


@period_app.command("close")
def close_month(month: Annotated[str, typer.Argument(help="YYYY-MM")], note: Annotated[str, typer.Option()] = "",
                config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Close MONTH: refused while anything in it is half done (each named), before it has ended, out of order."""
    from server import cli
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.permissions import Action
    from server.services.period import close

    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user, Action.PERIOD_CLOSE.value)
    try:
        with core_unit(engine) as u:
            row = close.close_month(u, ctx, month, note)
            typer.echo(f"已月结 / closed: {month} ({row.first_day} — {row.last_day}), {row.batches} 个批次快照 / "
                       "batches snapshot")
    except AppError as exc:
        raise _refused(exc) from exc


@period_app.command("closes")
def closes(config: ConfigOpt = None) -> None:
    """The closed periods, latest first, with the stock they closed with."""
    from server import cli
    from server.db.uow import read_session
    from server.services.period import close

    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._ctx(settings, engine)
    with read_session(engine) as s:
        for c in close.closes(s, ctx.store_id):
            typer.echo(f"{c['month']}  {c['batches']} 批次/batches  数量/qty {c['qty']}  成本/cost "
                       f"{c['cost_fen'] / 100:.2f}  零售/retail {c['retail_fen'] / 100:.2f}  {c['closed_at']}")


@period_app.command("reopen")
def reopen(month: Annotated[str, typer.Argument(help="YYYY-MM")]) -> None:
    """Never: a closed period is final (ST-02); corrections go into the open period."""
    from server.errors import AppError
    from server.services.period import close

    try:
        close.reopen(month)
    except AppError as exc:
        typer.echo(f"✗ [{exc.code}] {exc.message_zh} / {exc.message_en}", err=True)
        raise typer.Exit(1) from exc
