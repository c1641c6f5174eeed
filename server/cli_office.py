"""`dingdian office`: the back office (后台: receiving, counts, the month end, uploads and reconciliation, the
compliance checklist) in the office PC's browser (#22). textual-serve serves the till's app in its back-office-only
mode (`dingdian pos --office`): every browser that opens the page gets its own app process, which shows the login
first and then Ctrl+B's menu, within the person's posts (the service's own checks, as at the till). No sale screen,
no shift, no device is reachable from there.

It listens where `[office]` says (host, port; public_url when it listens on every interface) and speaks plain HTTP,
so it belongs on the store's own network. The page is textual-serve's own without its web font
(server/office_web/app_index.html says why)."""

from __future__ import annotations

import shlex
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from server.cli_care import ConfigOpt, _settings

TEMPLATES = Path(__file__).resolve().parent / "office_web"
TITLE = "丁点药房后台"


def register(root: typer.Typer) -> None:
    root.command("office")(office)


def app_command(config: Path | None) -> str:
    """The shell command textual-serve runs for each browser: this Python's till in its back-office-only mode, with
    the same config (the DINGDIAN_* environment goes along by itself)."""
    args = [sys.executable, "-m", "server.cli", "pos", "--office"]
    if config is not None:
        args += ["--config", str(config.resolve())]
    return shlex.join(args)


def _free(host: str, port: int) -> None:
    """A port already taken (or an address not this machine's) is one line in both languages, exit status 2."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            typer.echo(f"无法在 {host}:{port} 上提供后台（端口被占用或地址不可用） / cannot serve the back office on "
                       f"{host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(2) from exc


def office(config: ConfigOpt = None,
           host: Annotated[str | None, typer.Option(help="listen here (default: [office] host)")] = None,
           port: Annotated[int | None, typer.Option(help="listen on this port (default: [office] port)")] = None,
           ) -> None:
    """Serve the back office (month end, uploads, checklist …) to a browser, behind the till's login and posts."""
    from textual_serve.server import Server

    settings = _settings(config)
    host = host or settings.office.host
    port = port or settings.office.port
    public_url = settings.office.public_url.rstrip("/")
    if not public_url:
        if host in ("0.0.0.0", "::"):
            typer.echo(f"在所有网卡上提供后台时须设置 [office] public_url / listening on {host} needs [office] "
                       "public_url, the address the office PC opens", err=True)
            raise typer.Exit(2)
        public_url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    _free(host, port)
    typer.echo(f"后台 / back office: {public_url}  （浏览器打开，登录后使用 / open it in a browser and log in）")
    Server(app_command(config), host=host, port=port, title=TITLE, public_url=public_url,
           templates_path=TEMPLATES).serve()
