"""盘点 (后台 F3): a count sheet opened for a zone (or the whole store) at a snapshot, counted by scanning or typing
each batch's number and the quantity (packs, or packs+split units: 2+5; the book is in the smallest unit), a
variance's reason asked as soon as the service shows one, submitted, then posted by the person in charge, who
did not count it (盘盈/盘亏). 盲盘 (F5, before the sheet is opened): the counter does not see the book. The service keeps the
snapshot, the variances and the rules (a sheet is posted by someone other than its counter)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.screens.office import OfficeScreen

STATUS_ZH = {"open": "盘点中", "submitted": "已提交待过账", "posted": "已过账"}


def _shown(n: int | None) -> str:
    return "—" if n is None else str(n)


class CountScreen(OfficeScreen):
    KEYS = keymap.COUNT
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "盘点"
    COLUMNS = ("#", "品名", "规格", "批次号", "有效期", "账面", "实盘", "差异")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.step = "start"
        self.blind = False
        self.sheet: Json | None = None
        self.target: Json | None = None  # the batch being counted: {batch_id | batch_no, location, name}

    def on_mount(self) -> None:
        self.to_start()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        status = (self.sheet or {}).get("status")
        live = {"blind": self.step == "start",
                "submit": status == "open" and self.state.may("stock.count"),
                "post": status == "submitted" and self.state.may("batch.write")}
        return live.get(action, True)

    def _step(self, step: str) -> None:
        self.step = step
        self.keys_follow(step, (self.sheet or {}).get("status"))

    def to_start(self) -> None:
        self.sheet = None
        self._step("start")
        self.rows([], keep=False)
        self._title()
        self.ask("库区编码回车开新盘点单（空回车：全店）；#单号 打开已有的")

    def _title(self) -> None:
        if self.sheet is None:
            self.title_says(f"盘点：开新盘点单{'（盲盘）' if self.blind else ''}  F5 盲盘开关")
            return
        s = self.sheet
        self.title_says(f"盘点单 {s['id']}  {STATUS_ZH.get(s['status'], s['status'])}"
                        f"{'  盲盘' if s['blind'] else ''}  营业日 {s['business_date']}")

    def action_blind(self) -> None:
        self.blind = not self.blind
        self._title()

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        getattr(self, f"_enter_{self.step}")(self.typed())

    def _enter_start(self, text: str) -> None:
        if text.startswith("#"):
            if not text[1:].isdigit():
                self.say("单号请输入 # 加数字，如 #12", error=True)
                return
            self.work(self._open(int(text[1:])))
            return
        self.work(self._new(text or None))

    async def _new(self, zone: str | None) -> None:
        self._show(await self.calls.new_count(zone, self.blind))
        self.say(f"已开盘点单 {self.sheet['id'] if self.sheet else ''}（{zone or '全店'}）：扫描批次号，再输入数量")

    async def _open(self, sheet_id: int) -> None:
        self._show(await self.calls.count(sheet_id))

    def _show(self, sheet: Json) -> None:
        self.sheet = sheet
        self._step("batch" if sheet["status"] == "open" else "done")
        self._title()
        self.rows([(n, ln["item_name"], ln["spec"], ln["batch_no"], ln["expires_on"], _shown(ln["book_qty"]),
                    _shown(ln["counted_qty"]), _shown(ln["variance"])) for n, ln in enumerate(sheet["lines"], 1)])
        if sheet["status"] == "open":
            self.ask("扫描或输入批次号回车（空回车＝所选行）；F2 提交")
        elif sheet["status"] == "submitted":
            self.ask("已提交：店长按 F9 过账（差异须填原因）；Esc 返回")
        else:
            self.ask("已过账；Esc 返回")

    def _lines(self) -> list[Json]:
        return list((self.sheet or {}).get("lines") or [])

    def _enter_batch(self, text: str) -> None:
        lines = self._lines()
        if text:
            at = next((n for n, ln in enumerate(lines) if text in (ln["batch_no"], ln["lot_no"])), None)
            if at is None:  # not on the sheet (found in another place): the service looks the number up
                self.target = {"batch_no": text, "name": text}
                self._ask_qty()
                return
            self.table.move_cursor(row=at)
        if not 0 <= self.row < len(lines):
            self.say("请扫描批次号", error=True)
            return
        ln = lines[self.row]
        self.target = {"batch_id": ln["batch_id"], "location": ln["location"],
                       "name": f"{ln['item_name']} {ln['batch_no']}"}
        self._ask_qty()

    def _ask_qty(self) -> None:
        assert self.target is not None
        self._step("qty")
        self.ask(f"{self.target['name']}：实盘数量（件，或 件+拆零数），回车")

    def _enter_qty(self, text: str) -> None:
        packs, _, loose = text.partition("+")
        if not packs.isdigit() or not (loose.isdigit() or not loose):
            self.say("请输入数量：件数，或 件数+拆零数（如 2+5）", error=True)
            return
        assert self.target is not None and self.sheet is not None
        entry = {k: v for k, v in self.target.items() if k != "name"} | {"qty": int(packs), "loose": int(loose or 0)}
        self.work(self._count(self.sheet["id"], entry), f"已录入：{self.target['name']} {text}")

    async def _count(self, sheet_id: int, entry: Json) -> None:
        at = self.row
        self._show(await self.calls.enter_count(sheet_id, entry))
        line = next((ln for ln in self._lines() if ln["batch_id"] == entry.get("batch_id")
                     or ln["batch_no"] == entry.get("batch_no")), None)
        if line is not None and line["variance"] and not line["reason"]:  # the service's variance needs its why
            self.table.move_cursor(row=self._lines().index(line))
            self.target = {"batch_id": line["batch_id"], "location": line["location"], "qty": entry["qty"],
                           "loose": entry.get("loose", 0), "name": f"{line['item_name']} {line['batch_no']}"}
            self._step("why")
            self.ask(f"{self.target['name']} 差异 {line['variance']}：原因，回车")
            return
        self.table.move_cursor(row=min(at + 1, max(self.table.row_count - 1, 0)))

    def _enter_why(self, text: str) -> None:
        if not text:
            self.say("盘盈盘亏须填写原因", error=True)
            return
        assert self.target is not None and self.sheet is not None
        entry = {k: v for k, v in self.target.items() if k != "name"} | {"reason": text}
        self.work(self._count(self.sheet["id"], entry), f"已录入差异原因：{text}")

    def action_submit(self) -> None:
        if self.sheet is not None:
            self.work(self._submit(self.sheet["id"]), "已提交：等待店长过账")

    async def _submit(self, sheet_id: int) -> None:
        self._show(await self.calls.submit_count(sheet_id))

    def action_post(self) -> None:
        if self.sheet is None:
            return
        if any(ln["variance"] and not ln["reason"] for ln in self._lines()):  # a blind sheet's, seen only now
            self._step("reason")
            self.ask("差异原因（用于未填原因的差异行），回车过账")
            return
        self.work(self._post(self.sheet["id"], ""), "已过账：盘盈盘亏已记入库存账")

    def _enter_reason(self, text: str) -> None:
        if not text:
            self.say("盘盈盘亏须填写原因", error=True)
            return
        assert self.sheet is not None
        self.work(self._post(self.sheet["id"], text), "已过账：盘盈盘亏已记入库存账")

    async def _post(self, sheet_id: int, reason: str) -> None:
        reasons = {ln["batch_id"]: ln["reason"] or reason for ln in self._lines() if ln["variance"]}
        try:
            self._show(await self.calls.post_count(sheet_id, reasons))
        finally:
            if self.step == "reason" and self.sheet is not None:
                self._show(self.sheet)

    def _enter_done(self, _: str) -> None:
        pass

    def action_leave(self) -> None:
        if self.step in ("qty", "why", "reason") and self.sheet is not None:
            self._show(self.sheet)
        elif self.step != "start":
            self.to_start()
        else:
            self.app.pop_screen()
