"""`dingdian reconcile day|month|ack|status`: the reconciliation with the centre (ST-07) from the command line, the
same use cases as the API, acting as a named 医保 administrator (--as, their PIN asked)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings

if TYPE_CHECKING:
    from server.services.recon.reconcile import Outcome

reconcile_app = typer.Typer(help="对账 Reconciliation with the centre (3201/3202, ST-07).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds `reconcile` to the root command line (server.cli)."""
    root.add_typer(reconcile_app, name="reconcile")


def _echo_runs(outcome: Outcome) -> None:
    for r in outcome.runs:
        typer.echo(f"#{r.id} {r.kind} {r.stmt_begndate}..{r.stmt_enddate} {r.insutype}/{r.clr_type}/{r.clr_optins}"
                   f"/{'异地' if r.away else '本地'} 笔数 {r.setl_cnt} 医疗费 {r.medfee_fen / 100:.2f} "
                   f"{'平' if r.result == '0' else '不平'} {r.result_dscr}")
    if not outcome.runs:
        typer.echo("该期间没有医保结算 / no settlements in the period")


def _reconcile(kind: str, first: date, last: date, config: Path | None, as_user: str | None) -> None:
    from server.errors import AppError
    from server.insurance.factory import make_gateway
    from server.services.recon import reconcile

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "recon.run")
    gateway = make_gateway(settings, engine, ctx.store_id)
    try:
        outcome = reconcile.reconcile(engine, ctx, gateway, kind, first, last)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        gateway.close()
    _echo_runs(outcome)
    if any(r.result != "0" for r in outcome.runs):
        raise typer.Exit(1)


@reconcile_app.command("day")
def day(on: Annotated[str, typer.Argument(help="YYYY-MM-DD (the centre's settlement day)")],
        config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """3201 for every clearing group of the day; 3202 names each settlement of a 不平 one. Exit 1 on 不平."""
    try:
        when = date.fromisoformat(on)
    except ValueError:
        typer.echo("日期格式 YYYY-MM-DD / the day is YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    _reconcile("day", when, when, config, as_user)


@reconcile_app.command("month")
def month(ym: Annotated[str, typer.Argument(help="YYYY-MM")], config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """3201 for every clearing group of the month. Exit 1 on 不平."""
    from server.errors import AppError
    from server.services.recon.reconcile import month_span

    try:
        first, last = month_span(ym)
    except AppError as exc:
        raise _fail(exc) from exc
    _reconcile("month", first, last, config, as_user)


@reconcile_app.command("ack")
def ack(run_id: int, note: Annotated[str, typer.Option("--note", help="why the difference stands (required)")] = "",
        config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Acknowledge a 不平 run's difference with a note (audited)."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.recon import reconcile

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _acting(engine, _ctx(settings, engine), as_user, "recon.ack")
    try:
        with core_unit(engine) as u:
            row = reconcile.acknowledge(u, ctx, run_id, note)
    except AppError as exc:
        for v in exc.details.get("violations", []):
            typer.echo(f"✗ [{v['code']}] {v['message_zh']} / {v['message_en']}", err=True)
        raise _fail(exc) from exc
    typer.echo(f"已确认 / acknowledged: run #{run_id} (ack #{row.id})")


@reconcile_app.command("status")
def status(ym: Annotated[str, typer.Argument(help="YYYY-MM")], config: ConfigOpt = None) -> None:
    """Each day × group of the month, and what keeps the month from closing. Exit 1 when something does."""
    from server.db.uow import read_unit
    from server.errors import AppError
    from server.services.recon import reconcile, views

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    try:
        first, last = reconcile.month_span(ym)
    except AppError as exc:
        raise _fail(exc) from exc
    with read_unit(engine) as u:
        rows: list[dict[str, Any]] = views.days(u, ctx, first, last)
    for r in rows:
        typer.echo(f"{r['day']} {r['group']} 笔数 {r['settlements']} {r['status']}"
                   f"{' 已确认' if r['acknowledged'] else ''} {r['result_dscr']}")
        if r["blocker"]:
            typer.echo(f"  ✗ [{r['blocker']['code']}] {r['blocker']['message_zh']}")
    if any(r["blocker"] for r in rows):
        raise typer.Exit(1)
