"""`dingdian labels print|reprint|stale`: shelf labels (药品标签 / 价签, GSP-04) from the catalog, as a named person
(--as, their PIN asked), written to a PDF sheet; what on the shelf no longer says what the catalog says."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from server.cli_care import AsOpt, ConfigOpt, _ctx, _engine, _fail, _run, _settings

labels_app = typer.Typer(help="Shelf labels (价签, GSP-04): printed from the catalog, stale ones found, printed anew.",
                         no_args_is_help=True)
if TYPE_CHECKING:
    from server.services.catalog.labels import Printed

OutOpt = Annotated[Path, typer.Option("--out", help="the PDF sheet to write")]


def register(root: typer.Typer) -> None:
    root.add_typer(labels_app, name="labels")


def _write(done: Printed, out: Path) -> None:
    from reports.export import fonts, labels_pdf
    from server.rules.labels import Template

    try:
        labels_pdf.write(done.labels, Template(done.run.template), done.run.business_date, path=out)
    except fonts.FontMissing as exc:
        typer.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已打印 {len(done.labels)} 张价签（记录 #{done.run.id}）/ {len(done.labels)} label(s) printed "
               f"(run #{done.run.id}): {out}")


@labels_app.command("print")
def print_(out: OutOpt,
           items: Annotated[list[str] | None, typer.Option("--item", help="an item's code (repeat for more)")] = None,
           zone: Annotated[str | None, typer.Option("--zone", help="every item of this zone")] = None,
           changed: Annotated[bool, typer.Option("--changed", help="what changed since the last print (and what "
                                                                   "was never labelled)")] = False,
           template: Annotated[str, typer.Option("--template", help="standard | small (小价签: no 医保 mark)")]
           = "standard",
           printer: Annotated[str | None, typer.Option("--printer", help="also on this till's receipt printer "
                                                                         "(ESC/POS), e.g. T01")] = None,
           config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Print labels from the catalog (recorded: who, when, what each showed) to a PDF sheet, and to a till's
    receipt printer when asked."""
    from server.db.uow import Unit, orm
    from server.permissions import Action
    from server.rules.labels import Template
    from server.services.catalog import labels
    from server.services.context import Ctx

    chosen = [n for n, on in (("items", bool(items)), ("zone", zone is not None), ("changed", changed)) if on]
    if len(chosen) != 1 or template not in {t.value for t in Template}:
        typer.echo("须且只能选一种：--item … | --zone Z | --changed；--template standard|small / choose exactly one of "
                   "--item … | --zone Z | --changed; --template standard|small", err=True)
        raise typer.Exit(2)

    def work(u: Unit, ctx: Ctx) -> labels.Printed:
        ids = labels.item_ids(orm(u), ctx, list(items or [])) if items else None
        return labels.print_labels(u, ctx, labels.Selection(chosen[0]), Template(template), ids, zone, printer)

    _write(_run(config, as_user, Action.LABEL_PRINT.value, work), out)


@labels_app.command("reprint")
def reprint(run_id: Annotated[int, typer.Argument(help="the earlier run's number")], out: OutOpt,
            config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """An earlier run's labels again, as printed — refused when the catalog changed since (print anew then)."""
    from server.permissions import Action
    from server.services.catalog import labels

    _write(_run(config, as_user, Action.LABEL_PRINT.value, lambda u, ctx: labels.reprint_run(u, ctx, run_id)), out)


@labels_app.command("stale")
def stale(config: ConfigOpt = None) -> None:
    """The labels on the shelf that no longer say what the catalog says; exits 1 when there is any (for cron)."""
    from server.db.uow import read_session
    from server.errors import AppError
    from server.services.catalog import labels

    settings = _settings(config)
    engine = _engine(settings)
    try:
        with read_session(engine) as s:
            found = labels.stale(s, _ctx(settings, engine))
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    for x in found:
        now = f"{x.now.price_fen / 100:.2f}" if x.now else "已停用"
        typer.echo(f"{x.printed.code} {x.printed.name}: {', '.join(x.fields)}（价签 {x.printed.price_fen / 100:.2f} → "
                   f"{now}；记录 #{x.run_id}）")
    typer.echo(f"{len(found)} 张价签须更换 / {len(found)} label(s) to replace")
    if found:
        raise typer.Exit(1)
