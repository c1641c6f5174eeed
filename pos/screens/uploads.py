"""上传与对账 (后台 F5): the uploads' outbox (3501–3507) by transaction with its backlog, the rows the centre
rejected (with its message, whole when the row is chosen) or the transport failed (with the error), a chosen row sent
again (F5), derived again from the corrected catalog (F8: a row the centre took goes as 3507 and its batch again) or
a field the centre refused corrected (F9, "字段=值" typed) — the 医保 administrator's rights, uploads.write — and the
day's reconciliation (3201) per clearing group, run again with F6 (recon.run). What the till shows is the service's; a post without a right sees the key refused by name."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.format import store_today
from pos.screens.office import OfficeScreen
from pos.state import backlog
from pos.widgets.sale_lines import fit

STATE_ZH = {"rejected": "被拒", "failed": "失败"}


class UploadsScreen(OfficeScreen):
    KEYS = keymap.UPLOADS
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "上传与对账"
    COLUMNS = ("项目", "名称/状态", "待传", "被拒", "最早(时)", "说明")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.row_ids: list[int | None] = []  # per table row: the outbox row's id (None: a summary row)
        self.listed: dict[int, Json] = {}  # the outbox rows shown, by id

    def on_mount(self) -> None:
        self.ask("↑↓ 选择被拒/失败的记录，F5 重传，F8 按目录重新生成，F9 更正（字段=值）")
        self.action_reload()

    def action_reload(self) -> None:
        self.work(self._load())

    async def _load(self) -> None:
        status = await self.calls.uploads()
        today = store_today(self.state.tz)
        days = await self.calls.recon_days(today, today) if self.state.may("recon.read") else None
        self.show(status, days)

    def show(self, status: Json, days: list[Json] | None) -> None:
        self.state.update(uploads=backlog(status))  # the status bar follows what this screen was told
        ages = {b["txn"]: b for b in status["backlog"]}
        rows: list[tuple[Any, ...]] = []
        ids: list[int | None] = []
        for t in status["by_txn"]:
            lag = ages.get(t["txn"], {})
            states = t["states"]
            waiting = sum(n for s, n in states.items() if s != "accepted")
            rows.append((t["txn"], t["name_zh"], waiting, states.get("rejected", 0),
                         f"{lag['age_hours']:.1f}" if lag else "", f"已接收 {states.get('accepted', 0)}"))
            ids.append(None)
        self.listed = {int(r["id"]): r for r in [*status["rejected"], *status.get("failed", [])]}
        for r in self.listed.values():
            rows.append((f"#{r['id']}", f"{r['txn']} {STATE_ZH.get(r['state'], r['state'])}", "", "", r["business_date"],
                         fit(r["centre_message"] or r["last_error"] or "—", 30).rstrip()))
            ids.append(int(r["id"]))
        for d in days or []:
            rows.append((f"对账 {d['day']}", fit(d["group"], 16).rstrip(), d["settlements"], "", "",
                         fit(f"{d['status']}{'（已确认）' if d['acknowledged'] else ''} {d['result_dscr']}", 30).rstrip()))
            ids.append(None)
        self.row_ids = ids
        self.rows(rows)
        overdue = status.get("overdue") or []
        head = f"上传积压：超过 {status['backlog_max_hours']} 小时 {len(overdue)} 项" if overdue else "上传积压在时限内"
        if days is None:
            head += "；对账结果须医保管理员或店长查看"
        elif not days:
            head += "；今日没有医保结算需对账"
        self.say(head, error=bool(overdue))

    def action_cursor(self, step: int) -> None:
        super().action_cursor(step)
        r = self.listed.get(self.chosen() or 0)
        if r is not None:  # the centre's words whole (the table cuts them)
            why = r["centre_message"] or r["last_error"] or "—"
            self.say(f"#{r['id']} {r['txn']} {STATE_ZH.get(r['state'], r['state'])}：{why}", error=True)

    def chosen(self) -> int | None:
        return self.row_ids[self.row] if 0 <= self.row < len(self.row_ids) else None

    def _may_write(self, what: str) -> int | None:
        """The chosen outbox row's id when the logged-in post may change the outbox (else said, by name)."""
        if not self.state.may("uploads.write"):
            self.say(f"{what}须由{self.state.who_may('uploads.write')}办理", error=True)
            return None
        row_id = self.chosen()
        if row_id is None:
            self.say("请选择一条被拒或失败的记录（#编号）", error=True)
        return row_id

    def action_retry(self) -> None:
        if (row_id := self._may_write("重传")) is not None:
            self.work(self._retry(row_id))

    async def _retry(self, row_id: int) -> None:
        out = await self.calls.retry_uploads([row_id])
        await self._load()
        self.say(f"记录 #{row_id} 已重新排队上传（{out['requeued']} 条）")

    def action_rederive(self) -> None:
        if (row_id := self._may_write("重新生成")) is not None:
            self.work(self._rederive(row_id, self.typed().strip() or "目录已更正，按目录重新生成"))

    async def _rederive(self, row_id: int, note: str) -> None:
        out = await self.calls.rederive_upload(row_id, note)
        self.input.value = ""
        await self._load()
        if out["deletion_id"] is None:
            self.say(f"记录 #{row_id} 已按目录重新生成，排队上传")
        else:
            self.say(f"记录 #{row_id} 中心已接收：先发 3507 删除该批次，再重传 {len(out['resent'])} 条")

    def action_correct(self) -> None:
        if (row_id := self._may_write("更正")) is None:
            return
        field, sep, value = self.typed().partition("=")
        if not sep or not field.strip() or not value.strip():
            self.say("请在输入框填写 字段=值（中心所指的字段），再按 F9", error=True)
            return
        self.work(self._correct(row_id, field.strip(), value.strip()))

    async def _correct(self, row_id: int, field: str, value: str) -> None:
        await self.calls.correct_upload(row_id, {field: value}, f"柜台更正 {field}")
        self.input.value = ""
        await self._load()
        self.say(f"记录 #{row_id} 的 {field} 已更正，排队上传")

    def action_reconcile(self) -> None:
        if not self.state.may("recon.run"):
            self.say(f"对账须由{self.state.who_may('recon.run')}办理", error=True)
            return
        self.say("正在对账（3201）…")
        self.work(self._reconcile())

    async def _reconcile(self) -> None:
        runs = await self.calls.reconcile_day(store_today(self.state.tz))
        await self._load()
        self.say("今日对账：" + ("；".join(f"{r['insutype']}·{r['clr_type']} {r['result_zh']}" for r in runs)
                                 or "没有医保结算"))

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        self.action_reload()
