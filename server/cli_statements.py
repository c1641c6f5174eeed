"""`dingdian report card-statement|rx-statement`: the card-purchase statement (ST-03) and the 外配处方 statement
(RX-09) from the command line, the same reports as GET /reports/card-statement|rx-statement, acting as a named person
(--as, their PIN asked): identity numbers masked, except with --for-agency (the 医保 administrator only; audited)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.toml to use (default: ./config.toml)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who runs the command: your username (your PIN is asked)")]
FromOpt = Annotated[str | None, typer.Option("--from", help="first day YYYY-MM-DD (default: the statement period's)")]
ToOpt = Annotated[str | None, typer.Option("--to", help="last day YYYY-MM-DD")]
PreviousOpt = Annotated[bool, typer.Option("--previous", help="with no --from/--to: the statement period before this "
                                                             "one ([rules] statement_period)")]
XlsxOpt = Annotated[Path | None, typer.Option("--xlsx", help="write the workbook here")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="write the CSV (UTF-8, BOM) here")]
PdfOpt = Annotated[Path | None, typer.Option("--pdf", help="write the PDF for the paper file or submission here")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the whole statement as JSON")]

if TYPE_CHECKING:
    from server.services.context import Ctx


def _period(ctx: Ctx, start: str | None, end: str | None, previous: bool) -> tuple[date, date]:
    from server import cli
    from server.api.statements import statement_period
    from server.errors import AppError

    try:
        return statement_period(date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None,
                                "previous" if previous else "current", ctx)
    except (ValueError, AppError) as exc:
        raise cli._fail(exc if isinstance(exc, AppError) else AppError(
            422, "VALIDATION", "日期格式应为 YYYY-MM-DD", "dates are YYYY-MM-DD")) from exc


def _pdf(write: Callable[[], Path]) -> None:
    """Writes a PDF; no CJK font on this machine is a clear error naming the package, never a PDF of boxes."""
    from reports.export.fonts import FontMissing
    from server import cli
    from server.errors import AppError

    try:
        write()
    except FontMissing as exc:
        raise cli._fail(AppError(500, "FONT", exc.message_zh, exc.message_en)) from exc


def card_statement(start: FromOpt = None, end: ToOpt = None, previous: PreviousOpt = False, xlsx_path: XlsxOpt = None,
                   csv_path: CsvOpt = None, pdf_path: PdfOpt = None, as_json: JsonOpt = False,
                   for_agency: Annotated[bool, typer.Option(
                       "--for-agency", help="identity numbers whole in the files (the 医保 administrator only; "
                                            "recorded in the audit log)")] = False,
                   config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """刷卡购药结算对账单 (ST-03): one row per settlement, subtotals by clearing group; exits 1 when a row's
    identities (医疗费总额 = 基金支付 + 个人负担; 个人负担 = 个人账户 + 现金) fail."""
    from server import cli

    if for_agency and not (xlsx_path or csv_path or pdf_path):
        typer.echo("--for-agency 须配合 --xlsx、--csv 或 --pdf / --for-agency writes a file: give --xlsx, --csv or "
                   "--pdf", err=True)
        raise typer.Exit(2)
    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user,
                      "report.agency" if for_agency else "report.read")
    first, last = _period(ctx, start, end, previous)

    from reports import card_statement as cs
    from reports.export import statements
    from server.services import agency_export

    st = cs.card_statement(engine, ctx.store_id, first, last, settings.store.tz, settings.store.admdvs)
    store = settings.store
    if pdf_path:
        from reports.export import card_pdf

        _pdf(lambda: card_pdf.write(st, pdf_path, store.name, store.fixmedins_code, ctx.now, store.tz,
                                    unmasked=for_agency))
    for path, fmt in ((xlsx_path, "xlsx"), (csv_path, "csv"), (pdf_path, "pdf")):
        if path and fmt != "pdf":
            statements.write_card(st, path, fmt, unmasked=for_agency)
        if path and for_agency:
                agency_export.record(engine, ctx, "card_statement", first, last, fmt, path.read_bytes(), len(st.rows),
                                     cs.persons(st), "dingdian report card-statement --for-agency")
    if as_json:
        typer.echo(json.dumps(cs.as_dict(st), ensure_ascii=False, indent=2))
    else:
        t = st.total
        typer.echo(f"刷卡购药结算对账单 {first.isoformat()} — {last.isoformat()}: 结算 {t.settlements} 笔, "
                   f"撤销 {t.cancellations} 笔; 医疗费总额 {t.money.medfee / 100:.2f} 元, 基金支付 "
                   f"{t.money.fund / 100:.2f} 元, 个人账户 {t.money.acct / 100:.2f} 元, 现金 {t.money.cash / 100:.2f} 元")
        for g, s in st.by_group:
            typer.echo(f"  {g.label_zh}: {s.settlements} 笔/撤销 {s.cancellations} 笔, 医疗费总额 "
                       f"{s.money.medfee / 100:.2f}, 基金 {s.money.fund / 100:.2f}, 个人账户 {s.money.acct / 100:.2f}")
        for r in st.problems():
            typer.echo(f"不平 {r.setl_id}: {'；'.join(r.problems)}")
        for p in (xlsx_path, csv_path, pdf_path):
            if p:
                typer.echo(f"已写入 / written: {p}" + (" (证件号码不打码，已记入审计日志)" if for_agency else ""))
    if st.problems():
        raise typer.Exit(1)


def rx_statement(start: FromOpt = None, end: ToOpt = None, previous: PreviousOpt = False, xlsx_path: XlsxOpt = None,
                 csv_path: CsvOpt = None, pdf_path: PdfOpt = None, as_json: JsonOpt = False, config: ConfigOpt = None,
                 as_user: AsOpt = None) -> None:
    """外配处方费用统计表 (RX-09): one row per 外配处方 dispensed, totals per prescribing institution."""
    from server import cli

    settings = cli._settings(config)
    engine = cli._engine(settings)
    ctx = cli._acting(engine, cli._ctx(settings, engine), as_user, "report.read")
    first, last = _period(ctx, start, end, previous)

    from reports import rx_statement as rs
    from reports.export import statements

    st = rs.rx_statement(engine, ctx.store_id, first, last, settings.store.tz)
    for path, fmt in ((xlsx_path, "xlsx"), (csv_path, "csv")):
        if path:
            statements.write_rx(st, path, fmt)
    if pdf_path:
        from reports.export import rx_pdf

        store = settings.store
        _pdf(lambda: rx_pdf.write(st, pdf_path, store.name, store.fixmedins_code, ctx.now, store.tz))
    if as_json:
        typer.echo(json.dumps(rs.as_dict(st), ensure_ascii=False, indent=2))
        return
    t = st.total
    typer.echo(f"外配处方费用统计 {first.isoformat()} — {last.isoformat()}: {t.prescriptions} 张 (撤销 {t.cancelled}); "
               f"医疗费总额 {t.medfee / 100:.2f} 元, 基金 {t.fund / 100:.2f}, 个人账户 {t.acct / 100:.2f}, "
               f"现金 {t.cash / 100:.2f}")
    for x in st.by_institution:
        typer.echo(f"  {x.label}: {x.prescriptions} 张, 基金 {x.fund / 100:.2f} 元")
    for p in (xlsx_path, csv_path, pdf_path):
        if p:
            typer.echo(f"已写入 / written: {p}")


def register(root: typer.Typer) -> None:
    """Adds the statements to `dingdian report` (server.cli's report group)."""
    from server.cli import report_app

    report_app.command("card-statement")(card_statement)
    report_app.command("rx-statement")(rx_statement)
