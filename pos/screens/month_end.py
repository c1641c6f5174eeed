"""月结报表 (后台 F4): the month's 进销存 (F2) or card-purchase statement (F3) from the service, summed on screen,
then saved as the service makes it (F5 XLSX, F6 PDF where offered) into the till's export folder
(`[till] export_dir`), or downloaded by the browser when the back office is served to one (`dingdian office`),
or handed in for its month (F7, ST-04: the service keeps the file and its checksum; the status it gives is
shown). A report runs as a worker under a progress bar: the till's other keys stay live meanwhile,
and a second run replaces the first. Every figure is the service's (derived from the ledger); the till adds none."""

from __future__ import annotations

import calendar
import re
from collections.abc import Awaitable
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Input, ProgressBar

from pos import keymap
from pos.client import Json, ServiceError, ServiceUnavailable
from pos.format import store_today, yuan
from pos.office import FORMATS
from pos.screens.office import OFFLINE, OfficeScreen, bilingual

T = TypeVar("T")

KIND_ZH = {"ledger": "进销存", "card": "刷卡购药结算对账单"}
SUBMISSION_STATUS_ZH = {"draft": "草稿", "submitted": "已报送", "accepted": "已受理", "rejected": "已退回"}
_MONTH = re.compile(r"^(\d{4})-?(\d{1,2})$")


def month_range(text: str) -> tuple[date, date] | None:
    """2026-11 or 202611 → its first and last day; anything else None."""
    m = _MONTH.match(text)
    if not m or not 1 <= int(m[2]) <= 12 or not 2000 <= int(m[1]) <= 2100:
        return None
    year, month = int(m[1]), int(m[2])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def ledger_rows(report: Json) -> list[tuple[Any, ...]]:
    """The 进销存 summed as the till shows it: per GSP class and the total — opening, in, out, closing (qty and
    cost); the rows and columns are the report's own."""
    sides = {c["key"]: c["side"] for c in report["columns"]}

    def row(r: Json) -> tuple[Any, ...]:
        ins = sum(f["qty"] for k, f in r["columns"].items() if sides.get(k) == "in")
        outs = sum(f["qty"] for k, f in r["columns"].items() if sides.get(k) == "out")
        return (r["label"], r["opening"]["qty"], yuan(r["opening"]["cost_fen"]), ins, outs, r["closing"]["qty"],
                yuan(r["closing"]["cost_fen"]), "平" if r["balanced"] else "不平")

    return [row(r) for r in report["by_gsp_class"]] + [row(report["total"])]


def card_rows(st: Json) -> list[tuple[Any, ...]]:
    """The card statement's subtotals by clearing group and its total: settlements, 医疗费总额, fund, account, cash."""
    def row(label: str, s: Json) -> tuple[Any, ...]:
        m = s["money"]
        return (label, s["settlements"], s["cancellations"], yuan(m["medfee"]), yuan(m["fund"]), yuan(m["acct"]),
                yuan(m["cash"]), "")

    groups = [row(f"{g['insutype']}·{g['clr_type']}{'·异地' if g['nonlocal'] else ''}", g) for g in st["by_group"]]
    return [*groups, row("合计", st["total"])]


LEDGER_HEAD = ("分类", "期初数量", "期初成本", "入库", "出库", "期末数量", "期末成本", "核对")
CARD_HEAD = ("清算分组", "结算笔数", "撤销", "医疗费总额", "基金支付", "个人账户", "现金", "")


class MonthEndScreen(OfficeScreen):
    KEYS = keymap.MONTH_END
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "月结报表"
    COLUMNS = LEDGER_HEAD

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        today = store_today(state.tz)
        self.month = f"{today.year}-{today.month:02d}"
        self.kind: str | None = None  # the report shown
        self.running: str | None = None  # the report being made
        self.last_saved: Path | None = None
        self.submitted: Json | None = None  # the last submission made here, as the service described it

    def compose_more(self) -> ComposeResult:
        bar = ProgressBar(total=None, show_eta=False, id="month-progress")
        bar.display = False
        yield bar

    def on_mount(self) -> None:
        self._title()
        self.ask(f"月份（如 {self.month}），回车；F2 进销存  F3 刷卡对账单", self.month)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return self.kind is not None and self.running is None and parameters[0] in FORMATS[self.kind]
        if action == "submit":
            return self.kind is not None and self.running is None
        return True

    def _title(self) -> None:
        shown = f"  {KIND_ZH[self.kind]}" if self.kind else ""
        self.title_says(f"月结报表  {self.month}{shown}")

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        if self._month() is not None:
            self.say(f"月份 {self.month}：按 F2 进销存 或 F3 刷卡对账单")

    def _month(self) -> tuple[date, date] | None:
        text = self.typed() or self.month
        period = month_range(text)
        if period is None:
            self.say("月份请按 2026-11 的格式输入", error=True)
            return None
        self.month = f"{period[0].year}-{period[0].month:02d}"
        self._title()
        return period

    def _progress(self, running: str | None) -> None:
        self.running = running
        self.query_one("#month-progress", ProgressBar).display = running is not None
        self.keys_follow(self.kind, running)

    def action_run(self, kind: str) -> None:
        period = self._month()
        if period is None:
            return
        self._progress(kind)
        self.say(f"正在生成{KIND_ZH[kind]}（{self.month}）…")
        # Exclusive: a second F2/F3 replaces the run under way; the till's other keys are never held.
        self.run_worker(self._run(kind, *period), group="report", exclusive=True)

    async def _answer(self, call: Awaitable[T]) -> T | None:
        """The service's answer to a report's call, the progress bar gone whatever came; a refusal, or the service
        away, said on screen (None)."""
        try:
            return await call
        except ServiceError as exc:
            self.say(bilingual(exc), error=True)
        except ServiceUnavailable:
            self.say(OFFLINE, error=True)
        finally:
            self._progress(None)
        return None

    async def _run(self, kind: str, first: date, last: date) -> None:
        report = await self._answer(self.calls.report(kind, first, last))
        if report is None:
            return
        self.kind = kind
        self._title()
        self._show(kind, report)
        self.keys_follow(kind, self.running)

    def _show(self, kind: str, report: Json) -> None:
        table = self.table
        table.clear(columns=True)
        table.add_columns(*(LEDGER_HEAD if kind == "ledger" else CARD_HEAD))
        self.rows(ledger_rows(report) if kind == "ledger" else card_rows(report), keep=False)
        if kind == "ledger":
            checks = report.get("checks") or {}
            bad = [ln for ln in checks.get("lines") or [] if ln.get("verdict") not in ("ok", "平", True)]
            words = f"{report['from']} 至 {report['to']}：{len(report['items'])} 个品种，{len(report['batches'])} 个批次"
            self.say(words + (f"；核查提示 {len(bad)} 条" if bad else "") + "；F5 存XLSX  F6 存PDF")
        else:
            words = f"{report['from']} 至 {report['to']}：{len(report['rows'])} 笔结算"
            self.say(words + (f"；有问题的行 {report['problems']} 条" if report.get("problems") else "") + "；F5 存XLSX")

    def action_save(self, fmt: str) -> None:
        if self.kind is None or fmt not in FORMATS[self.kind]:
            return
        period = month_range(self.month)
        assert period is not None
        self._progress(self.kind)
        self.say(f"正在生成 {fmt.upper()} 文件…")
        self.run_worker(self._save(self.kind, fmt, *period), group="report", exclusive=True)

    async def _save(self, kind: str, fmt: str, first: date, last: date) -> None:
        got = await self._answer(self.calls.report_file(kind, first, last, fmt))
        if got is None:
            return
        body, name = got
        try:
            said = self.keep_file(body, name)
        except OSError as exc:
            self.say(f"文件保存失败：{exc.strerror or exc}（Could not save the file）", error=True)
            return
        self.last_saved = None if self.app.is_web else Path(self.state.export_dir) / Path(name).name
        self.say(said)

    def action_submit(self) -> None:
        """The report shown handed in for its month (ST-04): the service keeps the file and its checksum; who may
        hand it in is the service's to say."""
        period = month_range(self.month)
        if self.kind is None or self.running is not None or period is None:
            return
        self._progress(self.kind)
        self.say(f"正在报送{KIND_ZH[self.kind]}（{self.month}）…")
        self.run_worker(self._submit(self.kind, *period), group="report", exclusive=True)

    async def _submit(self, kind: str, first: date, last: date) -> None:
        done = await self._answer(self.calls.submit_report(kind, first, last))
        if done is None:
            return
        self.submitted = done
        self.say(f"已报送{KIND_ZH[kind]} {done['period']}：第{done['version']}版 编号{done['id']}，状态 "
                 f"{SUBMISSION_STATUS_ZH.get(done['status'], done['status'])}，校验 {done['sha256'][:12]}…")
