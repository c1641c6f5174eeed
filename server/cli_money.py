"""`dingdian receivables …` and `dingdian submission …`: the fund's receivables and the reserve (ST-05, ST-07) and
the reports handed in (ST-04) from the command line — the same use cases as the API, acting as a named person
(--as, their PIN asked) within their posts (SEC-01): the 医保 administrator writes, the manager reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config.toml to use (default: ./config.toml)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who runs the command: your username (your PIN is asked)")]
YearOpt = Annotated[int | None, typer.Option("--year", help="one year (default: all)")]

if TYPE_CHECKING:
    from sqlmodel import Session

    from server.db.uow import Unit
    from server.services.context import Ctx

receivables_app = typer.Typer(help="应收医保款: declarations (申报), payments, write-offs, the reserve (ST-05, ST-07).",
                              no_args_is_help=True)
calendar_app = typer.Typer(help="The working-day calendar: public holidays and 调休 working days.",
                           no_args_is_help=True)
submission_app = typer.Typer(help="Reports handed in (ST-04): draft, submit, the agency's verdict, overdue.",
                             no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Adds the receivables' and the submissions' commands to the root command line (server.cli)."""
    receivables_app.add_typer(calendar_app, name="calendar")
    root.add_typer(receivables_app, name="receivables")
    root.add_typer(submission_app, name="submission")


def _fail_on(exc: Exception) -> typer.Exit:
    from server import cli
    from server.errors import AppError

    if isinstance(exc, AppError):
        for v in exc.details.get("violations", []):
            typer.echo(f"✗ [{v['code']}] {v['message_zh']} / {v['message_en']}", err=True)
    return cli._fail(exc)


def _as(config: Path | None, as_user: str | None, action: str) -> tuple[Any, Ctx]:
    from server import cli

    settings = cli._settings(config)
    engine = cli._engine(settings)
    return engine, cli._acting(engine, cli._ctx(settings, engine), as_user, action)


def _write(config: Path | None, as_user: str | None, action: str, work: Callable[[Unit, Ctx], Any]) -> Any:
    """The work in one unit, as the named person; a refusal printed rule by rule and the exit code 1."""
    from server.db.uow import core_unit
    from server.errors import AppError

    engine, ctx = _as(config, as_user, action)
    try:
        with core_unit(engine) as u:
            return work(u, ctx)
    except AppError as exc:
        raise _fail_on(exc) from exc


def _read(config: Path | None, as_user: str | None, action: str, work: Callable[[Session, Ctx], Any]) -> Any:
    from server.db.uow import read_session
    from server.errors import AppError

    engine, ctx = _as(config, as_user, action)
    try:
        with read_session(engine) as s:
            return work(s, ctx)
    except AppError as exc:
        raise _fail_on(exc) from exc


def _fen(text: str) -> int:
    """An amount in 元 as typed (1234.56) to fen; never through a float."""
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        typer.echo(f"金额格式错误 / not an amount: {text!r}", err=True)
        raise typer.Exit(2) from None
    if value != value.quantize(Decimal("0.01")):
        typer.echo(f"金额最多两位小数 / at most two decimals: {text!r}", err=True)
        raise typer.Exit(2)
    return int(value * 100)


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:,.2f}"


# --- the calendar ------------------------------------------------------------------------------------------------

@calendar_app.command("set")
def calendar_set(day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
                 kind: Annotated[str, typer.Argument(help="holiday (a weekday off) or workday (a weekend worked)")],
                 name: Annotated[str, typer.Option("--name")] = "", config: ConfigOpt = None,
                 as_user: AsOpt = None) -> None:
    from server.services.insurance import calendar

    row = _write(config, as_user, "calendar.write",
                 lambda u, ctx: calendar.set_day(u, ctx, date.fromisoformat(day), kind, name).model_dump())
    typer.echo(f"{row['day']} {'节假日 holiday' if row['kind'] == 'holiday' else '调休上班 workday'} {row['name']}")


@calendar_app.command("list")
def calendar_list(year: YearOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    from server.services.insurance import calendar

    rows = _read(config, as_user, "receivable.read",
                 lambda s, ctx: [d.model_dump() for d in calendar.days(s, ctx, year)])
    for r in rows:
        typer.echo(f"{r['day']} {r['kind']} {r['name']}")


# --- receivables -------------------------------------------------------------------------------------------------

@receivables_app.command("declare")
def declare(period_start: Annotated[str, typer.Argument(help="the period's first day, YYYY-MM-DD")],
            config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Declare an ended statement period: the amount is derived from its settlements, never typed."""
    from server.db.models.base import id_of
    from server.services.insurance import declarations

    def work(u: Unit, ctx: Ctx) -> dict[str, Any]:
        row = declarations.declare(u, ctx, date.fromisoformat(period_start))
        return row.model_dump() | {"id": id_of(row)}

    row = _write(config, as_user, "receivable.write", work)
    typer.echo(f"申报 #{row['id']} {row['period_start']}~{row['period_end']} 基金支付 {_yuan(row['declared_fen'])} 元 "
               f"({row['settlements']} 笔)")
    for g in row["groups"]:
        typer.echo(f"  {g['label']}: {_yuan(g['fund_fen'])} 元 ({g['settlements']} 笔, 退 {g['refunds']} 笔)")


@receivables_app.command("pay")
def pay(declaration_id: int, amount: Annotated[str, typer.Argument(help="元, e.g. 1234.56")],
        on: Annotated[str, typer.Option("--on", help="the day received, YYYY-MM-DD")],
        reference: Annotated[str, typer.Option("--ref", help="the agency's payment notice number")],
        part: Annotated[str, typer.Option("--part", help="interim or reserve")] = "interim",
        note: Annotated[str, typer.Option("--note")] = "", config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """A payment as the agency's notice gives it."""
    from server.services.insurance import receivables

    fen = _fen(amount)
    _write(config, as_user, "receivable.write",
           lambda u, ctx: receivables.record_payment(u, ctx, declaration_id, fen, date.fromisoformat(on), reference,
                                                     part, note))
    typer.echo(f"已登记到账 / payment recorded: #{declaration_id} {_yuan(fen)} 元 {reference}")


@receivables_app.command("write-off")
def write_off(declaration_id: int,
              kind: Annotated[str, typer.Argument(help="refused (拒付), deduction (扣款) or penalty (罚款)")],
              amount: Annotated[str, typer.Argument(help="元")],
              reason: Annotated[str, typer.Option("--reason")],
              on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD")],
              reference: Annotated[str, typer.Option("--ref")] = "", config: ConfigOpt = None,
              as_user: AsOpt = None) -> None:
    """Write off what the agency refused, deducted or fined: never carried as owed."""
    from server.services.insurance import receivables

    fen = _fen(amount)
    _write(config, as_user, "receivable.write",
           lambda u, ctx: receivables.write_off(u, ctx, declaration_id, kind, fen, reason, date.fromisoformat(on),
                                                reference))
    typer.echo(f"已核销 / written off: #{declaration_id} {kind} {_yuan(fen)} 元")


@receivables_app.command("assess")
def assess(year: int, deducted: Annotated[str, typer.Option("--deducted", help="元 deducted from the reserve")] = "0",
           reason: Annotated[str, typer.Option("--reason")] = "", reference: Annotated[str, typer.Option("--ref")] = "",
           config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """The year-end assessment of a year's reserve."""
    from server.services.insurance import receivables

    fen = _fen(deducted)
    _write(config, as_user, "receivable.write",
           lambda u, ctx: receivables.assess(u, ctx, year, fen, reason, reference))
    typer.echo(f"{year} 年度考核已登记，扣除保证金 {_yuan(fen)} 元")


@receivables_app.command("view")
def view(year: YearOpt = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Per period: declared, written off, paid, reserve held, outstanding, due back, overdue; deposits per year."""
    from server.services.insurance import receivables

    v = _read(config, as_user, "receivable.read", lambda s, ctx: receivables.view(s, ctx, year))
    typer.echo(f"应收医保款 / receivables at {v['today']}")
    typer.echo("期间 | 申报 | 核销 | 已付 | 保证金 | 未付 | 应退 | 到期日")
    for r in v["declarations"]:
        typer.echo(f"{r['period']} | {_yuan(r['declared_fen'])} | {_yuan(r['written_off_fen'])} | "
                   f"{_yuan(r['paid_interim_fen'])} | {_yuan(r['reserve_fen'])} | {_yuan(r['outstanding_fen'])} | "
                   f"{_yuan(r['due_back_fen'])} | {r['due_on']}{' 逾期 OVERDUE' if r['overdue'] else ''}")
    t = v["totals"]
    typer.echo(f"合计 | {_yuan(t['declared_fen'])} | {_yuan(t['written_off_fen'])} | {_yuan(t['paid_interim_fen'])} | "
               f"{_yuan(t['reserve_fen'])} | {_yuan(t['outstanding_fen'])} | {_yuan(t['due_back_fen'])} | "
               f"逾期 {t['overdue']}")
    for d in v["deposits"]:
        typer.echo(f"{d['year']} 保证金: 留存 {_yuan(d['held_fen'])} 扣除 {_yuan(d['deducted_fen'])} "
                   f"应返还 {_yuan(d['released_fen'])} 已返还 {_yuan(d['returned_fen'])} 尚留 {_yuan(d['still_held_fen'])}"
                   f"{' 已考核' if d['assessed'] else ' 未考核'}")
    if v["undeclared"]:
        typer.echo(f"⚠ 已结束未申报的期间 / ended, not declared: {', '.join(v['undeclared'])}")
    for y in v["calendar_missing_years"]:
        typer.echo(f"⚠ {y} 年的节假日日历未录入，到期日只按周末计算 / no calendar for {y}: weekends only")


# --- submissions -------------------------------------------------------------------------------------------------

def _line(r: dict[str, Any]) -> str:
    return (f"#{r['id']} {r['kind']} {r['period']} v{r['version']} {r['status']} {r['file_name']} "
            f"sha256 {r['sha256'][:16]}… {'校验通过' if r['verified'] else '校验不符 ALTERED'}")


@submission_app.command("draft")
def draft(kind: Annotated[str, typer.Argument(help="ledger, card_statement, rx_statement or declaration")],
          period_start: Annotated[str, typer.Argument(help="the period's first day, YYYY-MM-DD")],
          file: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False, readable=True,
                                                      help="the file; none for the 进销存: made from the ledger")]
          = None,
          previous: Annotated[int | None, typer.Option("--previous", help="the rejected submission this resubmits")]
          = None, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    from server.db.uow import core_unit
    from server.errors import AppError
    from server.services.store import submissions

    start = date.fromisoformat(period_start)
    engine, ctx = _as(config, as_user, "submission.write")
    try:
        if file is not None:
            name, content = file.name, file.read_bytes()
        elif kind == "ledger":  # made from the ledger before the unit opens: a read, then the one write
            name, content = submissions.ledger_file(engine, ctx, start)
        else:
            name, content = "", b""  # refused below: a report with no file
        with core_unit(engine) as u:
            row = submissions.describe(submissions.draft(u, ctx, kind, start, name, content, previous))
    except AppError as exc:
        raise _fail_on(exc) from exc
    typer.echo(_line(row))


@submission_app.command("submit")
def submit(submission_id: int, config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    from server.services.store import submissions

    typer.echo(_line(_write(config, as_user, "submission.write",
                            lambda u, ctx: submissions.describe(submissions.submit(u, ctx, submission_id)))))


@submission_app.command("decide")
def decide(submission_id: int,
           accepted: Annotated[bool, typer.Option("--accepted/--rejected", help="the agency's verdict")],
           reason: Annotated[str, typer.Option("--reason")] = "", reference: Annotated[str, typer.Option("--ref")] = "",
           config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    from server.services.store import submissions

    typer.echo(_line(_write(config, as_user, "submission.write",
                            lambda u, ctx: submissions.describe(
                                submissions.decide(u, ctx, submission_id, accepted, reason, reference)))))


@submission_app.command("list")
def listing(kind: Annotated[str | None, typer.Option("--kind")] = None, year: YearOpt = None,
            config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    from server.services.store import submissions

    for r in _read(config, as_user, "report.read",
                   lambda s, ctx: [submissions.describe(x) for x in submissions.listing(s, ctx, kind, year)]):
        typer.echo(_line(r))


@submission_app.command("board")
def board(kind: Annotated[str | None, typer.Option("--kind")] = None, year: YearOpt = None,
          config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Each report's periods, due dates and statuses; exit 1 when one is overdue."""
    from server.services.store import submissions

    b = _read(config, as_user, "report.read", lambda s, ctx: submissions.board(s, ctx, year, kind))
    for r in b.rows:
        typer.echo(f"{r['kind_zh']} {r['period']} 截止 {r['due_on']} {r['status']}"
                   f"{' 逾期 OVERDUE' if r['overdue'] else ''}")
    for v in b.unset:
        typer.echo(f"⚠ [{v.rule}] {v.message_zh} / {v.message_en}")
    if any(r["overdue"] for r in b.rows):
        raise typer.Exit(1)


@submission_app.command("file")
def file_of(submission_id: int, out: Annotated[Path, typer.Argument(dir_okay=False)], config: ConfigOpt = None,
            as_user: AsOpt = None) -> None:
    """Write the submitted file out, after checking it against its SHA-256."""
    from server.services.store import submissions

    data = _read(config, as_user, "report.read",
                 lambda s, ctx: submissions.checked(submissions.get(s, ctx, submission_id)))
    out.write_bytes(data)
    typer.echo(f"已写入 / written: {out} ({len(data)} bytes, sha256 verified)")
