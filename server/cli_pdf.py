"""`dingdian pdf receipt|count-sheet|count-result|loss ID`: the printable stock documents as PDF files, the same as
the API's (server/api/documents.py), read as a named person (--as, their PIN asked) who may read stock; each copy
written is kept as issued (`dingdian documents verify` checks one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server.cli_care import AsOpt, ConfigOpt

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="the PDF to write (default: KIND-ID.pdf here)")]

pdf_app = typer.Typer(help="Printable stock documents as PDF (入库验收单, 盘点表, 盘点结果, 报损/销毁记录).",
                      no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds the documents' commands to the root command line (server.cli)."""
    root.add_typer(pdf_app, name="pdf")


def _write(config: Path | None, as_user: str | None, out: Path | None, kind: str, ref_id: int) -> None:
    """The document printed as the named person to `out`, its copy kept (server.services.stock.issued); its
    核验码 said, to compare with a paper copy's (`dingdian documents verify`)."""
    from server import cli
    from server.errors import AppError
    from server.services.stock import issued

    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user, "stock.read")
    try:
        copy = issued.issue(engine, ctx, kind, ref_id)
    except AppError as exc:
        raise cli._fail(exc) from exc
    except RuntimeError as exc:  # reports.export.fonts.FontMissing: its message says what to install
        raise cli._fail(exc) from exc
    path = out or Path(copy.file_name)
    path.write_bytes(copy.content)
    typer.echo(f"已写入 / written: {path}  核验码 / fingerprint: {copy.fingerprint}  留存副本 / kept copy: {copy.id}")


@pdf_app.command("receipt")
def receipt(receipt_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """入库验收单: the delivery, each line's 验收 outcome, the inspector and the approver."""
    _write(config, as_user, out, "receipt", receipt_id)


@pdf_app.command("count-sheet")
def count_sheet(sheet_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """盘点表 to count on: no book quantities, a blank for each count."""
    _write(config, as_user, out, "count_sheet", sheet_id)


@pdf_app.command("count-result")
def count_result(sheet_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """盘点结果: book, counted, variance with reason and cost, who counted and who posted (a blind sheet once
    handed in)."""
    _write(config, as_user, out, "count_result", sheet_id)


@pdf_app.command("loss")
def loss(loss_id: int, out: OutOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """报损单 / 销毁记录: the lines at cost, the reason, the method and the witnesses."""
    _write(config, as_user, out, "loss", loss_id)
