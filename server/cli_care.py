"""`dingdian count|loss|recall|upkeep|near-expiry`: stock care from the command line, the same use cases as the API,
acting as a named person (--as, their PIN asked) within their posts (SEC-01)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.toml to use (default: ./config.toml)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who runs the command: your username (your PIN is asked)")]

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from server.config import Settings
    from server.db.uow import Unit
    from server.services.context import Ctx


# The root command line's helpers, imported when a command runs (server.cli imports this module to register it).
def _settings(config: Path | None) -> Settings:
    from server import cli
    return cli._settings(config)


def _engine(settings: Settings) -> Engine:
    from server import cli
    return cli._engine(settings)


def _ctx(settings: Settings, engine: Engine) -> Ctx:
    from server import cli
    return cli._ctx(settings, engine)


def _acting(engine: Engine, ctx: Ctx, as_user: str | None, action: str) -> Ctx:
    from server import cli
    return cli._acting(engine, ctx, as_user, action)


def keyed(options: list[str] | None, sep: str, shape: str) -> dict[int, str]:
    """Repeated `--opt N<sep>text` options as {N: text}; exits 2 naming the shape expected when one is not."""
    found: dict[int, str] = {}
    for option in options or []:
        key, _, text = option.partition(sep)
        if not key.strip().isdigit():
            typer.echo(f"{shape} expected, got {option!r}", err=True)
            raise typer.Exit(2)
        found[int(key)] = text
    return found


def _fail(exc: Exception) -> typer.Exit:
    from server import cli
    return cli._fail(exc)

count_app = typer.Typer(help="Counts (盘点): a sheet at a snapshot, counted, submitted, posted by another.",
                        no_args_is_help=True)
loss_app = typer.Typer(help="Losses (报损, 过期报损, 销毁 before two witnesses, recalled stock returned).",
                       no_args_is_help=True)
recall_app = typer.Typer(help="Recalls (召回): stop a batch and list who bought it.", no_args_is_help=True)
upkeep_app = typer.Typer(help="The monthly upkeep inspection (养护, GSP-06).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds stock care's commands to the root command line (server.cli)."""
    for sub, name in ((count_app, "count"), (loss_app, "loss"), (recall_app, "recall"), (upkeep_app, "upkeep")):
        root.add_typer(sub, name=name)
    root.command("near-expiry")(near_expiry)


def _run(config: Path | None, as_user: str | None, action: str, work: Callable[[Unit, Ctx], Any]) -> Any:
    """The work in one unit, as the named person; a refusal printed rule by rule and the exit code 1."""
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
        raise _fail(exc) from exc


def _sheet_text(config: Path | None, sheet_id: int) -> str:
    from server.db.uow import read_session
    from server.services.stock import counts

    settings = _settings(config)
    engine = _engine(settings)
    with read_session(engine) as s:
        v = counts.view(s, _ctx(settings, engine), sheet_id)
    rows = [f"盘点单 / count sheet #{v['id']} {v['status']}{' 盲盘/blind' if v['blind'] else ''} "
            f"快照 {v['snapshot_at']:%Y-%m-%d %H:%M}Z"]
    rows += [f"  {ln['batch_no']:<14}{' 待验' if ln['location'] == 'quarantine' else ''} {ln['item_name']} 批号 {ln['lot_no']}  账面 "
             f"{'-' if ln['book_qty'] is None else ln['book_qty']}  实盘 "
             f"{'-' if ln['counted_qty'] is None else ln['counted_qty']}  差异 "
             f"{'-' if ln['variance'] is None else ln['variance']} {ln['reason']}" for ln in v["lines"]]
    return "\n".join(rows)


def _pairs(given: list[str], what: str) -> list[tuple[str, int, str]]:
    """KEY=QTY[:REASON] options."""
    out = []
    for g in given:
        key, _, rest = g.partition("=")
        qty, _, reason = rest.partition(":")
        if not key.strip() or not qty.strip().isdigit():
            typer.echo(f"{what}=数量[:原因] / {what}=QTY[:REASON] expected, got {g!r}", err=True)
            raise typer.Exit(2)
        out.append((key.strip(), int(qty), reason.strip()))
    return out


@count_app.command("create")
def count_create(zone: Annotated[str | None, typer.Option("--zone", help="a zone's code (default: the whole store)")]
                 = None, blind: Annotated[bool, typer.Option("--blind", help="盲盘: hide the book")] = False,
                 quarantine: Annotated[bool, typer.Option("--quarantine", help="include 待验 stock")] = False,
                 note: Annotated[str, typer.Option()] = "", config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """A count sheet at this moment's snapshot, a line per batch holding sellable stock (and 待验 stock)."""
    from server.services.stock import counts

    sheet_id = _run(config, as_user, "stock.count",
                    lambda u, ctx: counts.create_sheet(u, ctx, zone, blind, note, quarantine).id)
    typer.echo(_sheet_text(config, sheet_id))


@count_app.command("enter")
def count_enter(sheet_id: int,
                line: Annotated[list[str], typer.Option("--line", help="BATCH_NO=QTY[:原因] in split units; "
                                                                       "repeatable")],
                quarantine: Annotated[bool, typer.Option("--quarantine", help="the lines count 待验 stock")] = False,
                config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Counted quantities by batch number (as on the batch label)."""
    from server.services.stock import counts, ledger

    where = ledger.QUARANTINE if quarantine else ledger.SELLABLE
    entries = [counts.Entry(batch_no=no, location=where, loose=qty, reason=why)
               for no, qty, why in _pairs(line, "BATCH_NO")]
    _run(config, as_user, "stock.count", lambda u, ctx: counts.enter(u, ctx, sheet_id, entries))
    typer.echo(_sheet_text(config, sheet_id))


@count_app.command("submit")
def count_submit(sheet_id: int, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """The counter hands the sheet in."""
    from server.services.stock import counts

    _run(config, as_user, "stock.count", lambda u, ctx: counts.submit(u, ctx, sheet_id))
    typer.echo(_sheet_text(config, sheet_id))


@count_app.command("post")
def count_post(sheet_id: int,
               reason: Annotated[list[str] | None, typer.Option("--reason", help="BATCH_ID=原因 for a variance; "
                                                                                "repeatable")] = None,
               note: Annotated[str, typer.Option()] = "", config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """The person in charge, who did not count it, posts the variances (盘盈/盘亏)."""
    from server.services.stock import counts

    reasons = keyed(reason, "=", "BATCH_ID=原因")
    _run(config, as_user, "batch.write", lambda u, ctx: counts.post(u, ctx, sheet_id, note, reasons))
    typer.echo(_sheet_text(config, sheet_id))


@count_app.command("show")
def count_show(sheet_id: int, config: ConfigOpt = None) -> None:
    """A count sheet (a blind one without its book until submitted)."""
    from server.errors import AppError

    try:
        typer.echo(_sheet_text(config, sheet_id))
    except AppError as exc:
        raise _fail(exc) from exc


@loss_app.command("create")
def loss_create(kind: Annotated[str, typer.Argument(help="damage, expiry_writeoff, destruction or recall")],
                batch: Annotated[list[str], typer.Option("--batch", help="BATCH_ID=QTY in split units; repeatable")],
                reason: Annotated[str, typer.Option("--reason")],
                method: Annotated[str, typer.Option("--method", help="销毁方式 (destruction)")] = "",
                witness: Annotated[list[str] | None, typer.Option("--witness", help="a witness's username "
                                                                                   "(destruction: two; PIN asked)")]
                = None,
                recall: Annotated[int | None, typer.Option("--recall", help="the recall (kind recall)")] = None,
                location: Annotated[str, typer.Option("--location", help="sellable or quarantine")] = "sellable",
                config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """A loss document: its stock leaves at cost."""
    from server.errors import AppError
    from server.services.stock import care
    from server.services.store.witnesses import witness as confirm

    settings = _settings(config)
    engine = _engine(settings)
    lines = [care.LossLineIn(int(b), qty, location) for b, qty, _ in _pairs(batch, "BATCH_ID") if b.isdigit()]
    ctx = _ctx(settings, engine)
    witnesses = []
    for name in witness or []:
        pin = typer.prompt(f"监督人 {name} 的 PIN / witness's PIN", hide_input=True)
        try:
            witnesses.append(confirm(engine, ctx, name, pin))
        except AppError as exc:
            raise _fail(exc) from exc
    loss_id = _run(config, as_user, "stock.loss",
                   lambda u, c: care.write_off(u, c, kind, reason, lines, method, witnesses, recall).id)
    typer.echo(f"已出库 / written off: 报损单 #{loss_id} {kind} {len(lines)} 行 / lines")


@recall_app.command("start")
def recall_start(batch_id: int, reason: Annotated[str, typer.Option("--reason")],
                 notice: Annotated[str, typer.Option("--notice", help="召回通知编号")] = "",
                 config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Stop a batch for a recall and list who bought it."""
    from server.services.stock import care

    recall_id = _run(config, as_user, "batch.stop", lambda u, ctx: care.start_recall(u, ctx, batch_id, reason,
                                                                                     notice).id)
    recall_show(recall_id, config)


@recall_app.command("show")
def recall_show(recall_id: int, config: ConfigOpt = None) -> None:
    """A recall and its buyers (identity numbers masked)."""
    from server.db.uow import read_session
    from server.errors import AppError
    from server.services.stock import care

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    try:
        with read_session(engine) as s:
            r = care.get_recall(s, ctx, recall_id)
            buyers = care.buyers(s, ctx, r.batch_id)
    except AppError as exc:
        raise _fail(exc) from exc
    typer.echo(f"召回 / recall #{r.id} batch #{r.batch_id} {r.notice_no} {r.reason}")
    for b in buyers:
        who = f" {b['insured_name']} {b['insured_id']}" if b["insured_name"] else ""
        typer.echo(f"  {b['sale_no']} {b['business_date']} × {b['qty']}{who}")


@upkeep_app.command("due")
def upkeep_due(month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: this month)")] = None,
               config: ConfigOpt = None) -> None:
    """Zones with no upkeep inspection in the month."""
    from server.db.uow import read_session
    from server.services.stock import upkeep

    settings = _settings(config)
    engine = _engine(settings)
    with read_session(engine) as s:
        due = upkeep.zones_due(s, _ctx(settings, engine), month)
    for z in due:
        typer.echo(f"{z['zone']} {z['name']} {z['month']} 未养护 / not inspected")
    if not due:
        typer.echo("本月各区域均已养护 / every zone inspected")


@upkeep_app.command("record")
def upkeep_record(file: Annotated[Path, typer.Argument(help="JSON: the API's body of POST /upkeep", exists=True,
                                                       dir_okay=False)],
                  config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Record a zone's upkeep inspection; a doubted batch is stopped."""
    from server.api.schemas.care import UpkeepIn
    from server.services.stock import upkeep

    body = UpkeepIn.model_validate_json(file.read_text(encoding="utf-8"))
    checks = [upkeep.Check(**c.model_dump()) for c in body.checks]
    rid = _run(config, as_user, "stock.upkeep", lambda u, ctx: upkeep.record(u, ctx, body.zone_code, checks,
                                                                             body.note).id)
    typer.echo(f"已记录养护 / upkeep recorded: #{rid} {body.zone_code}")


@upkeep_app.command("clear")
def upkeep_clear(line_id: int, reason: Annotated[str, typer.Option("--reason")], config: ConfigOpt = None,
                 as_user: AsOpt = None) -> None:
    """Clear an upkeep line's quality doubt: the batch's stop is lifted."""
    from server.services.stock import upkeep

    _run(config, as_user, "batch.stop", lambda u, ctx: upkeep.clear(u, ctx, line_id, reason))
    typer.echo(f"已解除质量疑问 / doubt cleared: line #{line_id}")


def near_expiry(zone: Annotated[str | None, typer.Option("--zone")] = None, config: ConfigOpt = None) -> None:
    """The near-expiry pull list (近效期, rules.near_expiry_days), zone by zone."""
    from server.db.uow import read_session
    from server.services.stock import care

    settings = _settings(config)
    engine = _engine(settings)
    with read_session(engine) as s:
        rows = care.pull_list(s, _ctx(settings, engine), zone)
    for r in rows:
        flag = "已过期 / expired" if r["expired"] else f"剩 {r['days_left']} 天"
        typer.echo(f"{r['zone'] or '-'} {r['batch_no']} {r['item_name']} 批号 {r['lot_no']} {r['location']} "
                   f"× {r['qty']} 有效期 {r['expires_on']} {flag}")
