"""`dingdian receipt import` (a supplier's delivery file, 随货同行单) and `dingdian transfer` (调拨 between the stores
of a chain): the same use cases as the API, acting as a named person (--as, their PIN asked) within their posts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings, keyed

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


transfer_app = typer.Typer(help="Transfers (调拨) between the stores of a chain: send, see in transit, receive with 验收.",
                           no_args_is_help=True)


def _transfer_text(config: Path | None, transfer_id: int) -> str:
    from server.db.uow import read_session
    from server.services.stock import transfers

    settings = _settings(config)
    engine = _engine(settings)
    with read_session(engine) as s:
        ctx = _ctx(settings, engine)
        return _describe(transfers.view(s, transfers.get_transfer(s, ctx, transfer_id)))


def _describe(t: dict[str, Any]) -> str:
    rows = [f"调拨单 / transfer #{t['id']} {t['from_store']} → {t['to_store']} {t['status']} {t['business_date']}"]
    rows += [f"  {ln['line_no']:>3} {ln['item_code']} 批号 {ln['lot_no']} 有效期 {ln['expires_on']} {ln['qty']} "
             f"成本 {ln['cost_fen']} 分" for ln in t["lines"]]
    return "\n".join(rows)


@transfer_app.command("send")
def transfer_send(to: Annotated[str, typer.Option("--to", help="the receiving store's 定点编号")],
                  batch: Annotated[list[str], typer.Option("--batch", help="BATCH_ID=QTY in split units; repeatable")],
                  note: Annotated[str, typer.Option()] = "", config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """调拨出库: send stock to another store of the chain, at cost; it is in transit until received."""
    from server.services.stock import transfers

    lines = []
    for b in batch:
        key, _, qty = b.partition("=")
        if not key.strip().isdigit() or not qty.strip().isdigit():
            typer.echo(f"BATCH_ID=QTY expected, got {b!r}", err=True)
            raise typer.Exit(2)
        lines.append(transfers.Send(int(key), int(qty)))
    tid = _run(config, as_user, "stock.transfer", lambda u, ctx: int(transfers.send(u, ctx, to, lines, note).id or 0))
    typer.echo(_transfer_text(config, tid))


@transfer_app.command("in-transit")
def transfer_in_transit(config: ConfigOpt = None) -> None:
    """What this store sent and what is coming to it, not yet received."""
    from server.db.uow import read_session
    from server.services.stock import transfers

    settings = _settings(config)
    engine = _engine(settings)
    with read_session(engine) as s:
        shown = [_describe(t) for t in transfers.in_transit(s, _ctx(settings, engine))]
    typer.echo("\n".join(shown) or "无在途调拨 / nothing in transit")


@transfer_app.command("receive")
def transfer_receive(transfer_id: int,
                     hold: Annotated[list[str] | None, typer.Option("--hold", help="LINE:原因 待验; repeatable "
                                                                                  "(other lines: 合格)")] = None,
                     note: Annotated[str, typer.Option()] = "", config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """调拨入库: the caller's 验收 of every line (合格, or 待验 with a reason); the stock enters at its cost."""
    from server.db.uow import read_session
    from server.services.stock import transfers

    held = keyed(hold, ":", "行号:原因 / LINE:REASON")
    settings = _settings(config)
    with read_session(_engine(settings)) as s:
        numbers = [ln.line_no for ln in transfers.lines_of(s, transfer_id)]
    takes = [transfers.Take(n, "quarantine", held[n]) if n in held else transfers.Take(n) for n in numbers]
    _run(config, as_user, "receipt.inspect", lambda u, ctx: transfers.receive(u, ctx, transfer_id, takes, note))
    typer.echo(_transfer_text(config, transfer_id))


def register(root: typer.Typer) -> None:
    """Adds the commands to the root command line (server.cli): `import` under `receipt`, and `transfer`."""
    for group in root.registered_groups:
        if group.name == "receipt" and group.typer_instance is not None:
            group.typer_instance.command("import")(receipt_import)
    root.add_typer(transfer_app, name="transfer")
