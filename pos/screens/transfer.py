"""调拨 (后台 F12): transfers between the stores of a chain — sent out (调拨出库) and taken in with 验收 (调拨入库).

The list is what is in transit either way (what this store sent and what comes to it). Enter opens one: each line is
taken 合格 (Enter, F5) or held 待验 with a reason (F7), F2 sends the verdicts — the receiving store's inspector
only; the service refuses the sender taking its own goods back in, a transfer received twice, a post without the
right. F3 (the person in charge) sends one: the receiving store's code (定点编号), then each item's box scanned, its
batch chosen (↑↓ Enter when it has several), the quantity (packs, or packs+split units: 2+5); F2 sends it. The service
refuses a store of another chain, a receiver whose scope lacks an item, a batch that cannot be sold (GSP-05/06)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.screens.office import OfficeScreen
from pos.screens.supplier_return import parse_qty, shown_qty
from pos.widgets.sale_lines import fit

OUTCOME_ZH = {"accepted": "合格", "quarantine": "待验"}
BATCH_ZH = {"sellable": "可售", "stopped": "停售", "recalled": "召回"}


class TransferScreen(OfficeScreen):
    KEYS = keymap.TRANSFER
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "调拨"
    COLUMNS = ("#", "品名/门店", "批号", "有效期", "数量", "结论")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.step = "list"
        self.store_id: int | None = None  # this store's id (an incoming transfer is to it)
        self.transfers: list[Json] = []  # in transit, either way
        self.transfer: Json | None = None  # the one being taken in
        self.verdicts: dict[int, Json] = {}  # line no → {outcome, reason}
        self.dest = ""  # the receiving store's code, of a transfer being sent
        self.out: list[Json] = []  # its lines: batch_id, qty (split units), with what the table shows
        self.item: Json = {}  # the item scanned
        self.batches: list[Json] = []  # its batches with stock, to choose from
        self.chosen: Json = {}  # the batch chosen

    def on_mount(self) -> None:
        self.to_list()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = {"new": self.step == "list" and self.state.may("stock.transfer"),
                "submit": self.step in ("take", "out"),
                "verdict": self.step == "take"}
        return live.get(action, True)

    def _step(self, step: str) -> None:
        self.step = step
        self.keys_follow(step)

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        getattr(self, f"_enter_{self.step}")(self.typed())

    # --- in transit, either way -----------------------------------------------------------------------

    def to_list(self, said: str = "") -> None:
        self._step("list")
        self.transfer = None
        self.title_says("调拨：在途调拨单（本店发出 / 调往本店）")
        self.ask("回车：打开所选调拨单验收入库；F3 调拨出库")
        self.work(self._load_list(), said)

    async def _load_list(self) -> None:
        if self.store_id is None:
            self.store_id = int((await self.calls.store())["id"])
        self.transfers = await self.calls.transfers_in_transit()
        if self.step == "list":
            self.rows([(t["id"], fit(f"{t['from_store']}→{t['to_store']}", 20).rstrip(), "", t["business_date"],
                        len(t["lines"]), "待本店验收" if t["to_store_id"] == self.store_id else "在途")
                       for t in self.transfers], keep=False)

    def _enter_list(self, _: str) -> None:
        if not 0 <= self.row < len(self.transfers):
            self.say("没有在途的调拨单", error=True)
            return
        if not self.state.may("receipt.inspect"):
            self.say(f"调拨验收须由{self.state.who_may('receipt.inspect')}办理", error=True)
            return
        self.transfer, self.verdicts = self.transfers[self.row], {}
        self._step("take")
        t = self.transfer
        self.title_says(f"调拨验收  #{t['id']}  {t['from_store']}→{t['to_store']}（F5 合格 F7 待验，F2 提交）")
        self.ask("↑↓ 选择行，回车/F5 合格，F7 待验，F2 提交验收")
        self._show_take(keep=False)

    def _show_take(self, keep: bool = True) -> None:
        assert self.transfer is not None
        rows = []
        for ln in self.transfer["lines"]:
            v = self.verdicts.get(ln["line_no"], {})
            said = OUTCOME_ZH.get(v.get("outcome", ""), "未验")
            if v.get("reason"):
                said = fit(f"{said}：{v['reason']}", 16).rstrip()
            rows.append((ln["line_no"], fit(ln["item_name"] or ln["item_code"], 20).rstrip(),
                         ln["lot_no"], ln["expires_on"], ln["qty"], said))
        self.rows(rows, keep=keep)

    def _take_line(self) -> Json | None:
        lines = (self.transfer or {}).get("lines") or []
        return lines[self.row] if 0 <= self.row < len(lines) else None

    def action_verdict(self, outcome: str) -> None:
        line = self._take_line()
        if line is None:
            return
        if outcome == "quarantine":  # held with its reason: the service refuses one without
            self._step("why")
            self.ask(f"第 {line['line_no']} 行待验原因，回车（Esc 取消）")
            return
        self.verdicts[line["line_no"]] = {"outcome": outcome}
        self._show_take()
        self.action_cursor(1)

    def _enter_take(self, _: str) -> None:
        self.action_verdict("accepted")

    def _enter_why(self, text: str) -> None:
        line = self._take_line()
        if not text or line is None:
            self.say("待验须填写原因", error=True)
            return
        self.verdicts[line["line_no"]] = {"outcome": "quarantine", "reason": text}
        self._step("take")
        self.ask("↑↓ 选择行，回车/F5 合格，F7 待验，F2 提交验收")
        self._show_take()
        self.action_cursor(1)

    async def _receive(self) -> None:
        assert self.transfer is not None
        lines = self.transfer["lines"]
        if missing := [ln["line_no"] for ln in lines if ln["line_no"] not in self.verdicts]:
            self.say(f"还有 {len(missing)} 行未验收（第 {'、'.join(map(str, missing[:8]))} 行）", error=True)
            return
        got = await self.calls.receive_transfer(self.transfer["id"],
                                                [{"line_no": n} | v for n, v in sorted(self.verdicts.items())])
        self.to_list(f"调拨单 {got['id']} 已验收入库（{got['from_store']}→{got['to_store']}）")

    # --- 调拨出库: to another store of the chain ------------------------------------------------------------

    def action_new(self) -> None:
        self._step("dest")
        self.dest, self.out = "", []
        self.title_says("调拨出库：调入门店")
        self.rows([], keep=False)
        self.ask("调入门店编码（定点编号），回车")

    def _enter_dest(self, text: str) -> None:
        if not text:
            self.say("请输入调入门店编码", error=True)
            return
        self.dest = text
        self._to_out()

    def _to_out(self) -> None:
        self._step("out")
        self.title_says(f"调拨出库  至 {self.dest}  已录 {len(self.out)} 行（F2 发出）")
        self.ask("扫描商品条码（F2 发出调拨单）")
        self.rows([(n, fit(ln["name"], 20).rstrip(), ln["lot_no"], ln["expires_on"], ln["shown"], "")
                   for n, ln in enumerate(self.out, 1)])

    def _enter_out(self, text: str) -> None:
        if text:
            self.input.value = ""  # a scan is taken whole: the next one starts afresh, whatever this one finds
            self.work(self._scanned(text))

    async def _scanned(self, code: str) -> None:
        item = await self.calls.item_by_barcode(code)
        batches = [b for b in await self.calls.item_batches(item["id"]) if b["stock"] > 0]
        if not batches:
            self.say(f"{item['name']} 没有库存可调拨", error=True)
            return
        self.item, self.batches = item, batches
        if len(batches) == 1:
            self._ask_qty(batches[0])
            return
        self._step("batch")
        self.title_says(f"调拨出库  {item['name']}：选择批次（↑↓ 后回车）")
        self.ask("↑↓ 选择批次后回车")
        self.rows([(b["batch_no"], fit(item["name"], 20).rstrip(), b["lot_no"], b["expires_on"],
                    shown_qty(b["stock"], item["split_ratio"]), BATCH_ZH.get(b["status"], b["status"]))
                   for b in batches], keep=False)

    def _enter_batch(self, _: str) -> None:
        if 0 <= self.row < len(self.batches):
            self._ask_qty(self.batches[self.row])

    def _ask_qty(self, batch: Json) -> None:
        self.chosen = batch
        self._step("qty")
        self.ask(f"{self.item['name']} 批号 {batch['lot_no']}（库存 {shown_qty(batch['stock'], self.item['split_ratio'])}）"
                 "：调出数量（件，或 件+拆零数），回车")

    def _enter_qty(self, text: str) -> None:
        units = parse_qty(text, self.item["split_ratio"])
        if units is None:
            self.say("请输入数量：件数，或 件数+拆零数（如 2+5）", error=True)
            return
        b = self.chosen
        self.out.append({"batch_id": b["id"], "qty": units, "name": self.item["name"], "lot_no": b["lot_no"],
                         "expires_on": b["expires_on"], "shown": shown_qty(units, self.item["split_ratio"])})
        self.say("")
        self._to_out()
        self.table.move_cursor(row=len(self.out) - 1)

    async def _send(self) -> None:
        lines = [{"batch_id": ln["batch_id"], "qty": ln["qty"]} for ln in self.out]
        t = await self.calls.send_transfer(self.dest, lines)
        self.out = []
        self.to_list(f"调拨单 {t['id']} 已发出：{t['from_store']}→{t['to_store']}，{len(t['lines'])} 行在途")

    def action_submit(self) -> None:
        if self.step == "take":
            self.work(self._receive())
        elif self.step == "out":
            if not self.out:
                self.say("还没有明细：请先扫描商品条码", error=True)
                return
            self.work(self._send())

    # --- Esc: one step back -----------------------------------------------------------------------------

    def action_leave(self) -> None:
        if self.step == "why":
            self._step("take")
            self.ask("↑↓ 选择行，回车/F5 合格，F7 待验，F2 提交验收")
        elif self.step in ("batch", "qty"):
            self._to_out()
        elif self.step != "list":
            self.to_list()
        else:
            self.app.pop_screen()
