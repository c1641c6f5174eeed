"""养护检查 (后台 F10): the month's upkeep inspection of a zone (GSP-06). The zones not yet inspected this month are
listed; a zone's code (or Enter on its row) lists the batches it holds; each is scanned off its label or taken from
the cursor — Enter records it as 合格 (appearance, packaging and storage as seen: 正常 / 完好 / 符合要求), F6 as a
quality doubt with what the doubt is — and F2 hands the record in: the service stops every doubted batch from sale.
F7 lists the doubts not yet cleared; F9 clears the one under the cursor with why (the batch back on sale unless it
is recalled). Who cleared it and when the service records."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.screens.office import OfficeScreen

STATUS_ZH = {"active": "可售", "stopped": "已停售"}
SEEN_OK = {"appearance": "正常", "packaging": "完好", "storage": "符合要求"}
SEEN_DOUBT = {"appearance": "异常", "packaging": "完好", "storage": "符合要求"}


class UpkeepScreen(OfficeScreen):
    KEYS = keymap.UPKEEP
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "养护检查"
    COLUMNS = ("#", "库区/品名", "批次号", "有效期", "库存", "状态", "结论")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.step = "start"
        self.due: list[Json] = []
        self.zone = ""
        self.batches: list[Json] = []
        self.checks: dict[int, Json] = {}  # by batch id: {"outcome", "note"}
        self.doubts: list[Json] = []

    def on_mount(self) -> None:
        self.to_start()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = {"doubt": self.step == "inspect", "submit": self.step == "inspect" and bool(self.checks),
                "doubts": self.step in ("start", "inspect"),
                "clear": self.step == "doubts" and bool(self.doubts) and self.state.may("batch.stop")}
        return live.get(action, True)

    def _step(self, step: str) -> None:
        self.step = step
        self.keys_follow(step, bool(self.checks), bool(self.doubts))

    def to_start(self) -> None:
        self.zone, self.batches, self.checks = "", [], {}
        self._step("start")
        self.title_says("养护检查：本月未养护的库区")
        self.ask("库区编码回车开始检查（空回车＝所选库区）；F7 待处理质量疑问")
        self.work(self._load_due())

    async def _load_due(self) -> None:
        self.due = await self.calls.upkeep_due()
        self.rows([(n, f"{z['zone']} {z['name']}", "", "", "", z["month"], "本月未养护")
                   for n, z in enumerate(self.due, 1)], keep=False)
        if not self.due:
            self.say("本月各库区均已养护检查")

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        getattr(self, f"_enter_{self.step}")(self.typed().strip())

    # --- a zone's inspection --------------------------------------------------------------------------------------

    def _enter_start(self, text: str) -> None:
        if not text and 0 <= self.row < len(self.due):
            text = self.due[self.row]["zone"]
        if not text:
            self.say("请输入库区编码", error=True)
            return
        self.work(self._open_zone(text))

    async def _open_zone(self, zone: str) -> None:
        self.batches = await self.calls.find_batches(zone=zone)
        self.zone, self.checks = zone, {}
        self._step("inspect")
        self._show_batches(keep=False)
        self.say(f"库区 {zone}：{len(self.batches)} 个批次有库存")
        self.ask("扫描批次号或回车＝所选批次合格；F6 质量疑问；F2 提交")

    def _verdict(self, b: Json) -> str:
        c = self.checks.get(b["batch_id"])
        if c is None:
            return "未查"
        return "合格" if c["outcome"] == "ok" else f"疑问：{c['note']}"[:10]

    def _show_batches(self, keep: bool = True) -> None:
        self.rows([(n, b["item_name"], b["batch_no"], b["expires_on"], b["sellable"] + b["quarantine"],
                    STATUS_ZH.get(b["status"], b["status"]), self._verdict(b))
                   for n, b in enumerate(self.batches, 1)], keep=keep)
        done = len(self.checks)
        self.title_says(f"养护检查 库区 {self.zone}  已查 {done}/{len(self.batches)}")
        self.keys_follow(self.step, bool(self.checks), bool(self.doubts))

    def _enter_inspect(self, text: str) -> None:
        if text:
            at = next((n for n, b in enumerate(self.batches) if text in (b["batch_no"], b["lot_no"])), None)
            if at is None:
                self.say(f"批次 {text} 不在库区 {self.zone} 的库存中", error=True)
                self.input.value = ""
                return
            self.table.move_cursor(row=at)
        if not 0 <= self.row < len(self.batches):
            return
        self.checks[self.batches[self.row]["batch_id"]] = {"outcome": "ok", "note": ""}
        at = self.row
        self._show_batches()
        self.table.move_cursor(row=min(at + 1, len(self.batches) - 1))
        self.ask("扫描批次号或回车＝所选批次合格；F6 质量疑问；F2 提交")

    def action_doubt(self) -> None:
        if 0 <= self.row < len(self.batches):
            b = self.batches[self.row]
            self._step("note")
            self.ask(f"{b['item_name']} {b['batch_no']} 质量疑问：写明疑问回车（提交后停售）")

    def _enter_note(self, text: str) -> None:
        self.checks[self.batches[self.row]["batch_id"]] = {"outcome": "doubt", "note": text}
        self._step("inspect")
        self._show_batches()
        self.ask("扫描批次号或回车＝所选批次合格；F6 质量疑问；F2 提交")

    def action_submit(self) -> None:
        if self.step != "inspect" or not self.checks:
            return
        checks = [{"batch_id": bid, **(SEEN_OK if c["outcome"] == "ok" else SEEN_DOUBT), **c}
                  for bid, c in self.checks.items()]
        self.work(self._record(self.zone, checks))

    async def _record(self, zone: str, checks: list[Json]) -> None:
        rec = await self.calls.record_upkeep(zone, checks)
        doubted = sum(1 for ln in rec["lines"] if ln["outcome"] == "doubt")
        self.to_start()
        self.say(f"已记录库区 {zone} 养护检查 #{rec['id']}：{len(rec['lines'])} 个批次"
                 + (f"，{doubted} 个有质量疑问已停售" if doubted else ""))

    # --- the doubts not yet cleared -------------------------------------------------------------------------------

    def action_doubts(self) -> None:
        self.work(self._load_doubts())

    async def _load_doubts(self) -> None:
        self.doubts = await self.calls.upkeep_doubts()
        self._step("doubts")
        self.rows([(n, f"{d['zone']} {d['item_name']}", d["batch_no"], d["month"], "",
                    STATUS_ZH.get(d["batch_status"], d["batch_status"]), f"疑问：{d['note']}"[:10])
                   for n, d in enumerate(self.doubts, 1)], keep=False)
        self.title_says(f"待处理质量疑问 {len(self.doubts)} 条")
        self.ask("选择行按 F9 解除（须填原因）；Esc 返回" if self.doubts else "没有待处理的质量疑问；Esc 返回")

    def action_clear(self) -> None:
        if self.step == "doubts" and 0 <= self.row < len(self.doubts):
            d = self.doubts[self.row]
            self._step("why")
            self.ask(f"解除 {d['item_name']} {d['batch_no']} 的质量疑问：原因回车")

    def _enter_why(self, text: str) -> None:
        d = self.doubts[self.row]
        self.work(self._clear(d, text))

    async def _clear(self, d: Json, reason: str) -> None:
        try:
            await self.calls.clear_doubt(d["line_id"], reason)
        except BaseException:
            self._step("doubts")
            self.ask("选择行按 F9 解除（须填原因）；Esc 返回")
            raise
        await self._load_doubts()
        self.say(f"已解除 {d['item_name']} {d['batch_no']} 的质量疑问：{reason}（召回中的批次仍停售）")

    def _enter_doubts(self, _: str) -> None:
        pass

    def action_leave(self) -> None:
        if self.step == "note":
            self._step("inspect")
            self.ask("扫描批次号或回车＝所选批次合格；F6 质量疑问；F2 提交")
        elif self.step == "why":
            self._step("doubts")
            self.ask("选择行按 F9 解除（须填原因）；Esc 返回")
        elif self.step in ("inspect", "doubts"):
            self.to_start()
        else:
            self.app.pop_screen()
