"""`dingdian uploads status|send|retry|correct|rederive|replay`: the 进销存 uploads' outbox (3501–3507, ST-06) from the command line.

`send` does what the service's worker does (until nothing is due) and needs no person; `retry`, `correct`, `rederive`
and `replay` change what is queued and act as a named person (--as, their PIN asked) who may (SEC-01). `replay --from DATE` is the
step after a reinstall or a restore: each day and transaction the centre does not hold as the store does is sent
again (the centre deduplicates what it had), then completeness is proven day by day against the centre's count
and amount.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from server.config import Settings
    from server.services.context import Ctx
    from server.services.insurance.uploads import Completeness

uploads_app = typer.Typer(help="进销存上传 (3501–3507): the outbox's state, sending, retry, replay.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(uploads_app, name="uploads")


def _open(config: Path | None) -> tuple[Settings, Engine, Ctx]:
    settings = _settings(config)
    engine = _engine(settings)
    return settings, engine, _ctx(settings, engine)


def _gateway(settings: Settings, engine: Engine, ctx: Ctx) -> Any:
    from server.insurance.factory import make_gateway

    return make_gateway(settings, engine, ctx.store_id)


def completeness_of(settings: Settings) -> Completeness:
    """The centre's completeness query: the sandbox's; a region's real one is wired in its adapter."""
    if settings.insurance.gateway != "sandbox":
        raise typer.BadParameter("本地区的完整性查询未接入 / this region's completeness query is not wired: "
                                 "replay needs it to prove what the centre holds")
    from server.insurance.sandbox.uploads_client import CentreUploads

    return CentreUploads(settings.insurance.url, settings.store.fixmedins_code)


@uploads_app.command("status")
def status(config: ConfigOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="the status as JSON")] = False) -> None:
    """Per transaction and state, the backlog's age, the rejected rows with the centre's message."""
    from server.services.insurance import uploads

    _, engine, ctx = _open(config)
    doc = uploads.status(engine, ctx)
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, default=str))
        return
    for t in doc["by_txn"]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(t["states"].items()))
        typer.echo(f"{t['txn']} {t['name_zh']}: {states}")
    for b in doc["backlog"]:
        typer.echo(f"  未接收 {b['txn']}: {b['count']} 条（被拒 {b['rejected']}），最早 {b['age_hours']} 小时")
    for v in doc["overdue"]:
        typer.echo(f"✗ [{v['code']}] {v['message_zh']}", err=True)
    for r in doc["rejected"]:
        typer.echo(f"  #{r['id']} {r['txn']} {r['key']}: {r['centre_message']}")
    if not doc["signed_in"]:
        typer.echo("未医保签到：上传暂停 / not signed in: uploads wait")


@uploads_app.command("send")
def send(config: ConfigOpt = None) -> None:
    """Send what is due now, as the service's worker does (rows cut off by a stop first go out again)."""
    from server.services.insurance import uploads

    settings, engine, ctx = _open(config)
    gateway = _gateway(settings, engine, ctx)
    try:
        uploads.recover(engine, ctx)
        done = uploads.drain(engine, ctx, gateway)
    finally:
        gateway.close()
    typer.echo(f"accepted {done.accepted}, rejected {done.rejected}, failed {done.failed}"
               + (f" — {done.waiting}" if done.waiting else ""))


@uploads_app.command("retry")
def retry(ids: Annotated[list[int], typer.Argument(help="outbox row ids (rejected or failed)")],
          config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Send rejected or failed rows again as they are (audited)."""
    from server.db.uow import core_unit
    from server.services.insurance import uploads

    _, engine, ctx = _open(config)
    acting = _acting(engine, ctx, as_user, "uploads.write")
    with core_unit(engine) as u:
        n = uploads.retry(u, acting, ids)
    typer.echo(f"requeued {n}")


@uploads_app.command("correct")
def correct(row_id: Annotated[int, typer.Argument(help="a rejected outbox row's id")],
            field: Annotated[list[str], typer.Option("--field", help="NAME=VALUE of the row the centre refused; "
                                                                      "repeatable")],
            note: Annotated[str, typer.Option("--note", help="why (audited)")],
            config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Correct fields of a rejected row that no record of the store holds (an operator's name, a time's format) and
    send it again. Quantities, batches (ST-02) and what the catalog gives (UPLOAD-CATALOG: correct the item, then
    `rederive`) are refused."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.insurance import uploads

    fields = dict(f.split("=", 1) for f in field if "=" in f)
    if len(fields) != len(field):
        raise typer.BadParameter("--field 应为 名称=值 / --field takes NAME=VALUE")
    _, engine, ctx = _open(config)
    acting = _acting(engine, ctx, as_user, "uploads.write")
    try:
        with core_unit(engine) as u:
            uploads.correct(u, acting, row_id, fields, note)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"#{row_id} 已更正，将重新上传 / corrected, queued again")


@uploads_app.command("rederive")
def rederive(row_id: Annotated[int, typer.Argument(help="a rejected or accepted outbox row's id")],
             note: Annotated[str, typer.Option("--note", help="what was corrected in the catalog (audited)")],
             config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Derive a row again from the ledger and the corrected catalog and send it: a rejected row as it is now; a row
    the centre took goes as 3507 for its batch, then the batch's facts of that type again."""
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.insurance import uploads

    _, engine, ctx = _open(config)
    acting = _acting(engine, ctx, as_user, "uploads.write")
    try:
        with core_unit(engine) as u:
            out = uploads.rederive(u, acting, row_id, note)
    except AppError as exc:
        raise _fail(exc) from exc
    if out.deletion_id is None:
        typer.echo(f"#{row_id} 已按目录重新生成，将重新上传 / derived again, queued")
    else:
        typer.echo(f"#{row_id}: 3507 #{out.deletion_id} 先删除该批次，再重传 {len(out.resent)} 条 / 3507 first, then "
                   f"{len(out.resent)} row(s) again: {', '.join(f'#{i}' for i in out.resent)}")


@uploads_app.command("replay")
def replay(from_: Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD)")],
           to: Annotated[str | None, typer.Option("--to", help="last day (default: today)")] = None,
           config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """After a reinstall or a restore: send again what the centre lacks, then prove completeness per day."""
    from server.services.insurance import uploads

    settings, engine, ctx = _open(config)
    try:
        first, last = date.fromisoformat(from_), date.fromisoformat(to) if to else ctx.today
    except ValueError as exc:
        raise _fail(exc) from exc
    acting = _acting(engine, ctx, as_user, "uploads.write")
    centre = completeness_of(settings)
    gateway = _gateway(settings, engine, ctx)
    try:
        found = uploads.replay(engine, acting, first, last, centre)
        for d in found["differences"]:
            typer.echo(f"  {d['day']} {d['txn']}: ours {d['ours']} centre {d['centre']}")
        done = uploads.drain(engine, acting, gateway)
        proof = uploads.prove(engine, acting, first, last, centre)
    finally:
        gateway.close()
    typer.echo(f"requeued {found['requeued']}; accepted {done.accepted}, rejected {done.rejected}, "
               f"failed {done.failed}")
    if proof["complete"]:
        typer.echo(f"✓ complete {first}..{last}: {proof['facts']} facts over {len(proof['days'])} day(s)")
        return
    for d in proof["differences"]:
        typer.echo(f"✗ {d['day']} {d['txn']}: ours {d['ours']} centre {d['centre']}", err=True)
    raise typer.Exit(1)
