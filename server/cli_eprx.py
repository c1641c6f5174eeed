"""`dingdian eprx codes`: the demo's electronic 外配处方 codes (issue #23) — listed, drawn as QR codes in the terminal
(`--qr`: a phone or the till's 2D scanner reads them off the screen), or printed as QR on a till's receipt printer
(`--printer T01`, through the print queue: the printer's own QR command, ESC/POS GS ( k).

The codes are the sandbox platform's fixed demo codes (server.insurance.sandbox.eprx_demo), or those given.
"""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli_care import ConfigOpt, _ctx, _engine, _settings

eprx_app = typer.Typer(help="医保电子处方流转 (electronic 外配处方): the demo's prescription codes, as text or QR.",
                       no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(eprx_app, name="eprx")


def qr_text(data: str, dark_background: bool = True) -> str:
    """`data` as a QR code drawn with half blocks; on a dark terminal the light modules are drawn (inverted), so the
    code reads dark on light as a scanner wants."""
    from devices.printer.output import qr_rows

    return "\n".join(qr_rows(data, invert=dark_background)) + "\n"


@eprx_app.command("codes")
def codes(given: Annotated[list[str] | None, typer.Argument(help="codes to show (default: the demo's three)")] = None,
          qr: Annotated[bool, typer.Option("--qr", help="draw each as a QR code in the terminal")] = False,
          light: Annotated[bool, typer.Option("--light", help="the terminal is dark text on light (not inverted)")]
          = False,
          printer: Annotated[str | None, typer.Option("--printer", help="print them as QR on this till's receipt "
                                                                        "printer, e.g. T01")] = None,
          config: ConfigOpt = None) -> None:
    """The demo prescriptions' codes to scan at the till (F4, or at the sale): listed, as QR on screen, on paper."""
    from server.insurance.sandbox.eprx_demo import DEMO_CODES, demo_guide

    chosen = list(given or DEMO_CODES)
    if any(not c.strip() or len(c) > 60 for c in chosen):
        typer.echo("处方码须为 1–60 个字符 / a prescription code is 1–60 characters", err=True)
        raise typer.Exit(2)
    if printer:
        from server.db.uow import core_unit
        from server.services.printing import queue_qr_codes

        settings = _settings(config)
        engine = _engine(settings)
        ctx = _ctx(settings, engine)
        with core_unit(engine) as u:
            job = queue_qr_codes(u, ctx, printer, "演示电子处方码 / demo prescription codes", chosen)
        typer.echo(f"已加入打印队列（{printer}，作业 #{job}）/ queued on {printer}'s printer (job #{job})")
        return
    typer.echo(demo_guide() if not given else "\n".join(f"  {c}" for c in chosen))
    if qr:
        for code in chosen:
            typer.echo(f"\n{code}")
            typer.echo(qr_text(code, dark_background=not light), nl=False)
