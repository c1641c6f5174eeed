"""`dingdian documents verify CODE|FILE`: a stock document presented — a PDF file, or the 核验码 printed on a paper
copy — checked against the copies this store kept when it issued them (server.services.stock.issued), read as a
named person (--as, their PIN asked) who may read stock. A file matches only byte for byte: one changed byte and it
is refused (exit 1), naming nothing it could be mistaken for."""

from __future__ import annotations

from pathlib import Path

import typer

from server.cli_care import AsOpt, ConfigOpt

documents_app = typer.Typer(help="Kept stock documents (入库验收单, 盘点表, 盘点结果, 报损/销毁记录): verify a copy.",
                            no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds the documents' commands to the root command line (server.cli)."""
    root.add_typer(documents_app, name="documents")


@documents_app.command("verify")
def verify(what: str, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Check a PDF file (a path) or a paper copy's 核验码 against the copies kept."""
    from server import cli
    from server.db.uow import read_session
    from server.errors import AppError
    from server.services.stock import issued

    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user, "stock.read")
    path = Path(what)
    try:
        with read_session(engine) as s:
            if path.is_file():
                found = [issued.verify_file(s, ctx, path.read_bytes())]
            else:
                found = issued.verify_code(s, ctx, what)
    except AppError as exc:
        raise cli._fail(exc) from exc
    tz = settings.store.tz
    for c in found:
        d = c.describe()
        when = c.copy.issued_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{'与留存副本一致 / matches kept copy' if path.is_file() else '留存副本 / kept copy'} #{d['id']}："
                   f"{d['kind_zh']} {d['ref_id']}  核验码 {d['fingerprint']}  {d['issued_by']} {when} 出具  "
                   f"sha256 {d['sha256'][:16]}…")
        typer.echo("  单据现状与副本相同 / the document still reads the same" if c.current else
                   "  单据此后已有变化（如盘点已过账），副本是出具时的内容 / the document has changed since this copy")
