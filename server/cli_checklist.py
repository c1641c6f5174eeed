"""`dingdian checklist`, `dingdian checklist-history`, `dingdian attest`, `dingdian training`: the store manager's
compliance checklist from the command line (issue #22). `checklist` prints every item's verdict (and writes it as PDF
or XLSX with --pdf / --xlsx, identity numbers masked) and exits 1 when one fails, so a store can run it from cron (no
PIN asked: it reads, and records who ran it); `checklist-history` lists the runs kept and what changed between them;
`attest` and `training` act as a named person (--as)."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from server.cli_care import AsOpt, ConfigOpt, _acting, _ctx, _engine, _fail, _settings

DateOpt = Annotated[str | None, typer.Option(help="YYYY-MM-DD")]


def register(root: typer.Typer) -> None:
    root.command("checklist")(checklist)
    root.command("checklist-history")(checklist_history)
    root.command("attest")(attest)
    root.command("training")(training)


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        typer.echo(f"[VALIDATION] {what} 须为 YYYY-MM-DD：{text!r} / {what} must be YYYY-MM-DD: {text!r}", err=True)
        raise typer.Exit(2) from None


def checklist(start: Annotated[str | None, typer.Option("--from", help="first day YYYY-MM-DD (default: this month)")]
              = None,
              end: Annotated[str | None, typer.Option("--to", help="last day YYYY-MM-DD")] = None,
              as_json: Annotated[bool, typer.Option("--json", help="print every finding as JSON")] = False,
              pdf_path: Annotated[Path | None, typer.Option("--pdf", help="write the checklist as a PDF here")] = None,
              xlsx_path: Annotated[Path | None, typer.Option("--xlsx", help="write the checklist as an XLSX here")]
              = None,
              config: ConfigOpt = None) -> None:
    """The compliance checklist for a period: 合格 / 不合格 / 需人工确认 per item, with evidence and deadlines."""
    from server.api.reports import period
    from server.audit import Actor
    from server.errors import AppError
    from server.services.compliance import export
    from server.services.compliance.checklist import run

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    ctx = ctx.acting(Actor(None, f"cli:{getpass.getuser()}"))
    try:
        first, last = period(_day(start, "--from"), _day(end, "--to"), ctx.today)
        done = run(engine, ctx, first, last)
        if pdf_path or xlsx_path:
            doc = export.document(engine, ctx, done)
            for path, fmt in ((pdf_path, "pdf"), (xlsx_path, "xlsx")):
                if path:
                    export.write(doc, path, fmt)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    result = done.checklist
    if as_json:
        typer.echo(json.dumps({"period": [first.isoformat(), last.isoformat()], "changes": done.changes,
                               "findings": [asdict(f) | {"verdict_zh": f.verdict.label} for f in result.findings]},
                              ensure_ascii=False, default=str, indent=1))
    else:
        typer.echo(f"合规自查 {settings.store.name}（{result.store_code}）{first} 至 {last}")
        for f in result.findings:
            typer.echo(f"{f.no:>2}. [{f.verdict.label}] {f.title_zh} {'/'.join(f.rules)}")
            typer.echo(f"      {f.summary_zh}" + (f"（共 {f.count} 处）" if f.count > len(f.evidence) else ""))
            for row in f.evidence[:3] if f.verdict.value != "pass" else ():
                typer.echo(f"        · {row.get('zh') or json.dumps(row, ensure_ascii=False, default=str)}")
        soon = sorted((c for f in result.findings for c in f.countdowns), key=lambda c: c.days_left)
        if soon:
            typer.echo("期限提醒 / deadlines:")
            for c in soon[:10]:
                typer.echo(f"  {c.what_zh}：{c.due}（{'剩 ' + str(c.days_left) + ' 天' if c.days_left >= 0 else '已过 ' + str(-c.days_left) + ' 天'}）")
        if done.changes:
            typer.echo(f"与上次（{done.previous_at}）相比有变化 / changed since the last run:")
            for no, (then, now) in sorted(done.changes.items()):
                typer.echo(f"  第 {no} 项：{then} → {now}")
    for path in (pdf_path, xlsx_path):
        if path and not as_json:
            typer.echo(f"已写入 / written: {path}")
    if result.failed:
        raise typer.Exit(1)


def checklist_history(start: Annotated[str | None, typer.Option("--from", help="only runs of the period starting "
                                                                               "this day, YYYY-MM-DD")] = None,
                      end: Annotated[str | None, typer.Option("--to", help="only runs of the period ending this day")]
                      = None,
                      limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="at most this many runs")]
                      = 20,
                      as_json: Annotated[bool, typer.Option("--json", help="print the runs as JSON")] = False,
                      config: ConfigOpt = None) -> None:
    """The checklist runs kept, newest first: period, when, who, the counts, and what changed since the run before."""
    from server.services.compliance.history import runs

    settings = _settings(config)
    engine = _engine(settings)
    ctx = _ctx(settings, engine)
    try:
        found = runs(engine, ctx.store_id, _day(start, "--from"), _day(end, "--to"), limit)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([{"id": r.id, "from": r.first.isoformat(), "to": r.last.isoformat(),
                                "at": r.at.isoformat(), "run_by": r.run_by, "verdicts": r.verdicts,
                                "changes": r.changes} for r in found], ensure_ascii=False, indent=1))
        return
    if not found:
        typer.echo("尚无自查记录 / no checklist run yet")
    tz = settings.store.tz
    for r in found:
        typer.echo(f"#{r.id} {r.first} 至 {r.last}  {r.at.astimezone(tz):%Y-%m-%d %H:%M}  {r.run_by}  合格 "
                   f"{r.count('pass')} / 不合格 {r.count('fail')} / 需人工确认 {r.count('manual')}"
                   + (f"  不合格项：{'、'.join(map(str, r.failed))}" if r.failed else ""))
        for no, (then, now) in sorted(r.changes.items()):
            typer.echo(f"    第 {no} 项：{then} → {now}")


def attest(topic: Annotated[str, typer.Argument(help="system_drugs | system_finance | system_staff | "
                                                "system_statistics | system_settlement | sign | complaint_phone | "
                                                "policy_board | network | antivirus | no_external_media")],
           note: Annotated[str, typer.Option("--note", help="what was checked")],
           photo: Annotated[Path | None, typer.Option("--photo", exists=True, dir_okay=False,
                                                      help="a photo or scan of it")] = None,
           config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Confirm what no data proves (CHECK 13, 26): who, when, a note, a photo."""
    from server.errors import AppError
    from server.permissions import Action
    from server.services.compliance.checklist import attest as record

    settings = _settings(config)
    engine = _engine(settings)
    try:
        acting = _acting(engine, _ctx(settings, engine), as_user, Action.ATTEST.value)
        row = record(engine, acting, topic, note, photo.read_bytes() if photo else None)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    typer.echo(f"已确认 / attested: {row.topic}，有效至 / valid until {row.valid_until}")


def training(held_on: Annotated[str, typer.Option("--on", help="the day it was held, YYYY-MM-DD")],
             topic: Annotated[str, typer.Option("--topic")], trainer: Annotated[str, typer.Option("--trainer")],
             attendee: Annotated[list[str], typer.Option("--attendee", help="a username; repeat for each")],
             config: ConfigOpt = None, as_user: AsOpt = None) -> None:
    """Record a training held (STAFF-02) and who attended."""
    from server.errors import AppError
    from server.permissions import Action
    from server.services.compliance.checklist import record_training

    settings = _settings(config)
    engine = _engine(settings)
    day = _day(held_on, "--on")
    assert day is not None
    try:
        acting = _acting(engine, _ctx(settings, engine), as_user, Action.ATTEST.value)
        row = record_training(engine, acting, day, topic, trainer, attendee)
    except AppError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()
    typer.echo(f"已记录培训 / training recorded: {row.held_on} {row.topic}（{len(row.attendees)} 人）")
