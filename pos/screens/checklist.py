"""合规检查 (后台 F6): the store manager's compliance checklist (#22) — the 26 CHECK items for a month, each with the
service's verdict (合格 / 不合格 / 需人工确认), how many rows of evidence it found and the rules it checks; the row under
the cursor says why (the summary, what data is missing, the deadlines' countdowns, the first evidence). F2 checks
again for the month typed, F5/F6 keep it as XLSX/PDF (saved into `[till] export_dir`, or downloaded by the browser
when the back office is served to one). Every verdict is the service's; the till judges nothing."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from catalog.codes import mask_ids_in
from pos import keymap
from pos.client import Json, ServiceError, ServiceUnavailable
from pos.format import store_today
from pos.screens.month_end import month_range
from pos.screens.office import OFFLINE, OfficeScreen, bilingual
from pos.widgets.sale_lines import fit

FORMATS = ("xlsx", "pdf")
MARK = {"pass": "合格", "fail": "不合格", "manual": "需人工确认"}


def item_rows(checklist: Json) -> list[tuple[Any, ...]]:
    """One row per CHECK item, in the service's order: its number, title, verdict, evidence count, rules."""
    return [(f["no"], fit(f["title_zh"], 34).rstrip(), f["verdict_zh"] or MARK.get(f["verdict"], f["verdict"]),
             evidence_count(f), fit(" ".join(f["rules"]), 18).rstrip()) for f in checklist["findings"]]


def evidence_count(finding: Json) -> int:
    """The rows behind the verdict: the offending ones in all (a failed item), else the rows that prove it."""
    return int(finding["count"] or len(finding["evidence"]))


def detail(finding: Json, change: list[str] | None) -> str:
    """What the message line says of one item: why, what is missing, its deadlines, its first evidence."""
    summary = finding["summary_zh"]  # an item to confirm says so itself, with the data that is missing
    said = summary if summary.startswith(finding["verdict_zh"]) else f"{finding['verdict_zh']}：{summary}"
    lines = [f"{finding['no']}. {said}"]
    if countdowns := finding.get("countdowns"):
        lines.append("；".join(f"{c['what_zh']} {c['due']}（剩 {c['days_left']} 天）" for c in countdowns[:3]))
    if finding.get("evidence"):
        first = finding["evidence"][0]
        lines.append(f"证据 {evidence_count(finding)} 条，首条：" + fit("，".join(f"{k}={v}" for k, v in first.items()), 120))
    if change:
        lines.append(f"与上次检查相比：{MARK.get(change[0], change[0])} → {MARK.get(change[1], change[1])}")
    # SEC-06: the items mask what they quote; a whole identity number in free text is masked here too, as the
    # checklist's files mask every cell
    return mask_ids_in("\n".join(lines))


class ChecklistScreen(OfficeScreen):
    KEYS = keymap.CHECKLIST
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "合规检查"
    PROMPT = "月份（如 2026-11），回车重新检查"
    COLUMNS = ("项", "检查项目", "结论", "证据", "规则")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        today = store_today(state.tz)
        self.month = f"{today.year}-{today.month:02d}"
        self.checklist: Json | None = None  # the last run shown

    def on_mount(self) -> None:
        self.ask(self.PROMPT, self.month)
        self.action_run()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return self.checklist is not None and parameters[0] in FORMATS
        return True

    def _period(self) -> tuple[date, date] | None:
        period = month_range(self.typed() or self.month)
        if period is None:
            self.say("月份请按 2026-11 的格式输入", error=True)
            return None
        self.month = f"{period[0].year}-{period[0].month:02d}"
        return period

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        self.action_run()

    def action_run(self) -> None:
        period = self._period()
        if period is None:
            return
        self.title_says(f"合规检查  {self.month}  正在检查…")
        self.work(self._run(*period))

    async def _run(self, first: date, last: date) -> None:
        checklist = await self.calls.checklist(first, last)
        self.checklist = checklist
        findings = checklist["findings"]
        counts = {v: sum(1 for f in findings if f["verdict"] == v) for v in MARK}
        self.title_says(f"合规检查  {checklist['first']} 至 {checklist['last']}  共 {len(findings)} 项："
                        f"合格 {counts['pass']} · 不合格 {counts['fail']} · 需人工确认 {counts['manual']}")
        self.rows(item_rows(checklist), keep=False)
        self.keys_follow(True)  # F5/F6 live once there is a run to keep
        self._explain()

    def _explain(self) -> None:
        if self.checklist is None or self.row < 0:
            return
        finding = self.checklist["findings"][self.row]
        self.say(detail(finding, self.checklist["changes"].get(str(finding["no"]))),
                 error=finding["verdict"] == "fail")

    def action_cursor(self, step: int) -> None:
        super().action_cursor(step)
        self._explain()

    def action_save(self, fmt: str) -> None:
        period = self._period()
        if period is None or fmt not in FORMATS:
            return
        self.say(f"正在生成 {fmt.upper()} 文件…")
        self.run_worker(self._save(fmt, *period), group="checklist-file", exclusive=True)

    async def _save(self, fmt: str, first: date, last: date) -> None:
        try:
            body, name = await self.calls.checklist_file(first, last, fmt)
            self.say(self.keep_file(body, name))
        except ServiceError as exc:
            self.say(bilingual(exc), error=True)
        except ServiceUnavailable:
            self.say(OFFLINE, error=True)
        except OSError as exc:
            self.say(f"文件保存失败：{exc.strerror or exc}（Could not save the file）", error=True)
