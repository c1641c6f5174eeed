"""`dingdian pdf receipt|count-sheet|count-result|loss ID`: the printable stock documents as PDF files, the same as
the API's (server/api/documents.py), read as a named person (--as, their PIN asked) who may read stock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from server.cli_care import AsOpt, ConfigOpt

if TYPE_CHECKING:
    from sqlmodel import Session

    from reports.export.pdf_doc import Document
    from server.services.context import Ctx

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="the PDF to write (default: KIND-ID.pdf here)")]

pdf_app = typer.Typer(help="Printable stock documents as PDF (入库验收单, 盘点表, 盘点结果, 报损/销毁记录).",
                      no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds the documents' commands to the root command line (server.cli)."""
    root.add_typer(pdf_app, name="pdf")


def _write(config: Path | None, as_user: str | None, out: Path | None, name: str,
           gather: Callable[[Session, Ctx], Any], render: Callable[..., Document]) -> None:
    """The document's facts gathered as the named person, printed to `out`; its 核验码 said, to compare with a paper
    copy's."""
    from reports.documents import fingerprint
    from server import cli
    from server.db.uow import read_session
    from server.errors import AppError

    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user, "stock.read")
    path = out or Path(f"{name}.pdf")
    try:
        with read_session(engine) as s:
            facts = gather(s, ctx)
        render(facts, settings.store.name, ctx.now, settings.store.tz).save(path)
    except AppError as exc:
        raise cli._fail(exc) from exc
    except RuntimeError as exc:  # reports.export.fonts.FontMissing: its message says what to install
        raise cli._fail(exc) from exc
    typer.echo(f"已写入 / written: {path}  核验码 / fingerprint: {fingerprint(facts)}")


@pdf_app.command("receipt")
def receipt(receipt_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """入库验收单: the delivery, each line's 验收 outcome, the inspector and the approver."""
    from reports.export import stock_pdf
    from server.services.stock import documents

    _write(config, as_user, out, f"receipt-{receipt_id}", lambda s, ctx: documents.receipt_doc(s, ctx, receipt_id),
           stock_pdf.receipt)


@pdf_app.command("count-sheet")
def count_sheet(sheet_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """盘点表 to count on: no book quantities, a blank for each count."""
    from reports.export import stock_pdf
    from server.services.stock import documents

    _write(config, as_user, out, f"count-sheet-{sheet_id}",
           lambda s, ctx: documents.count_doc(s, ctx, sheet_id, result=False), stock_pdf.count_sheet)


@pdf_app.command("count-result")
def count_result(sheet_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """盘点结果: book, counted, variance with reason and cost, who counted and who posted (a blind sheet once
    handed in)."""
    from reports.export import stock_pdf
    from server.services.stock import documents

    _write(config, as_user, out, f"count-result-{sheet_id}",
           lambda s, ctx: documents.count_doc(s, ctx, sheet_id, result=True), stock_pdf.count_result)


@pdf_app.command("loss")
def loss(loss_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """报损单 / 销毁记录: the lines at cost, the reason, the method and the witnesses."""
    from reports.export import stock_pdf
    from server.services.stock import documents

    _write(config, as_user, out, f"loss-{loss_id}", lambda s, ctx: documents.loss_doc(s, ctx, loss_id),
           stock_pdf.loss)
