"""购进退出 (后台 F11): goods of an approved delivery back to its supplier, by receipt line and batch, with a reason.

The steps (GSP-05; the service judges each): the approved deliveries (采购入库, 已批准) → a box's barcode scanned finds
the deliveries of its item, a 追溯码 scanned the very line it came in on, Enter opens the one under the cursor → its
lines: Enter on a line asks how much goes back (packs, or packs+split units: 2+5), F6 takes it from the quarantine
instead of the shelf (a 待验 line's default) → F2 asks the reason, Enter sends it. The service refuses a rejected
line, more than is left of a line, a receipt not approved, a post without the right — each shown as it said."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.codes import is_trace_code
from pos.screens.office import OfficeScreen
from pos.widgets.sale_lines import fit

LOCATION_ZH = {"sellable": "合格区", "quarantine": "待验区"}
LATEST = 50  # the list shows the latest approved deliveries; a scan finds older ones too


def parse_qty(text: str, ratio: int) -> int | None:
    """'2' (packs) or '2+5' (packs + split units) → split units; anything else, or nothing, None."""
    packs, plus, loose = text.partition("+")
    if not packs.isdigit() or (plus and not loose.isdigit()):
        return None
    units = int(packs) * max(ratio, 1) + int(loose or 0)
    return units or None


def shown_qty(units: int, ratio: int) -> str:
    """Split units as packs (+ the rest): 25 at 10 a pack → '2+5'."""
    packs, loose = divmod(units, max(ratio, 1))
    return f"{packs}+{loose}" if loose else str(packs)


class SupplierReturnScreen(OfficeScreen):
    KEYS = keymap.SUPPLIER_RETURN
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "购进退出"
    COLUMNS = ("#", "品名/随货单", "批号", "有效期", "收货", "退货", "库位")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.step = "list"
        self.receipts: list[Json] = []  # the approved deliveries shown (the latest, or those a scan found)
        self.receipt: Json | None = None  # the delivery whose lines go back
        self.items: dict[int, Json] = {}  # item id → {name, split_ratio}
        self.back_qty: dict[int, int] = {}  # line no → split units going back
        self.where: dict[int, str] = {}  # line no → sellable | quarantine

    def on_mount(self) -> None:
        self.to_list()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = {"location": self.step == "lines", "submit": self.step == "lines"}
        return live.get(action, True)

    def _step(self, step: str) -> None:
        self.step = step
        self.keys_follow(step)

    # --- the approved deliveries -----------------------------------------------------------------------

    def to_list(self, said: str = "") -> None:
        self._step("list")
        self.receipt = None
        self.title_says("购进退出：已批准的采购入库单")
        self.ask("扫描商品条码或追溯码找入库单；回车：打开所选入库单")
        self.work(self._load_list(), said)

    async def _load_list(self) -> None:
        self._show_list(await self.calls.approved_deliveries(latest=LATEST))

    def _show_list(self, receipts: list[Json]) -> None:
        self.receipts = [r for r in receipts if r["kind"] == "purchase"]  # (the first inventory has no supplier)
        receipts = self.receipts
        if self.step == "list":
            self.rows([(r["id"], f"随货单 {r['dynt_no'] or '—'}", r["purc_invo_no"] or "", r["business_date"],
                        len(r["lines"]), "", "") for r in receipts], keep=False)

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        getattr(self, f"_enter_{self.step}")(self.typed())

    def _enter_list(self, text: str) -> None:
        if text:
            self.input.value = ""  # a scan is taken whole: the next one starts afresh, whatever this one finds
            self.work(self._scanned(text))
            return
        if not 0 <= self.row < len(self.receipts):
            self.say("没有可退货的入库单（须为已批准的采购入库）", error=True)
            return
        self.work(self._open(self.receipts[self.row]))

    async def _scanned(self, code: str) -> None:
        if is_trace_code(code):  # the very box: the line it came in on
            found = [r for r in await self.calls.approved_deliveries(trace_code=code) if r["kind"] == "purchase"]
            if not found:
                self.say(f"追溯码 {code} 不在已批准的采购入库单中", error=True)
                return
            line = next(ln for ln in found[0]["lines"] if code in ln["trace_codes"])
            await self._open(found[0], line["line_no"])
            return
        item = await self.calls.item_by_barcode(code)
        found = [r for r in await self.calls.approved_deliveries(item_id=item["id"])
                 if r["kind"] == "purchase" and any(ln["item_id"] == item["id"] and ln["batch_id"] for ln in r["lines"])]
        if not found:
            self.say(f"{item['name']} 没有已批准的入库记录可退", error=True)
            return
        if len(found) == 1:
            await self._open(found[0], next(ln["line_no"] for ln in found[0]["lines"] if ln["item_id"] == item["id"]))
            return
        self._show_list(found)
        self.say(f"{item['name']}：{len(found)} 张入库单，↑↓ 选择后回车")

    # --- one delivery's lines -----------------------------------------------------------------------------

    async def _open(self, receipt: Json, line_no: int | None = None) -> None:
        for item_id in sorted({ln["item_id"] for ln in receipt["lines"]} - set(self.items)):
            self.items[item_id] = await self.calls.item(item_id)
        self.receipt, self.back_qty = receipt, {}
        self.where = {ln["line_no"]: "quarantine" if ln["outcome"] == "quarantine" else "sellable"
                      for ln in receipt["lines"]}
        self._step("lines")
        self.title_says(f"购进退出  入库单 {receipt['id']}  随货单 {receipt['dynt_no'] or '—'}（F2 提交）")
        self.ask("回车：所选行的退货数量；F6 切换库位；F2 提交")
        self._show_lines(keep=False)
        if line_no is not None:  # a scan named the line: its quantity asked at once
            self.table.move_cursor(row=[ln["line_no"] for ln in receipt["lines"]].index(line_no))
            self._enter_lines("")

    def _ratio(self, line: Json) -> int:
        return int(self.items.get(line["item_id"], {}).get("split_ratio") or 1)

    def _show_lines(self, keep: bool = True) -> None:
        assert self.receipt is not None
        rows = []
        for ln in self.receipt["lines"]:
            name = self.items.get(ln["item_id"], {}).get("name", f"商品 {ln['item_id']}")
            back = self.back_qty.get(ln["line_no"])
            rows.append((ln["line_no"], fit(name, 20).rstrip(), ln["lot_no"], ln["expires_on"],
                         "拒收" if ln["batch_id"] is None else ln["qty"],
                         shown_qty(back, self._ratio(ln)) if back else "", LOCATION_ZH[self.where[ln["line_no"]]]))
        self.rows(rows, keep=keep)

    def _line(self) -> Json | None:
        lines = (self.receipt or {}).get("lines") or []
        return lines[self.row] if 0 <= self.row < len(lines) else None

    def _enter_lines(self, _: str) -> None:
        line = self._line()
        if line is None:
            return
        name = self.items.get(line["item_id"], {}).get("name", "")
        self._step("qty")
        self.ask(f"第 {line['line_no']} 行 {name}：退货数量（件，或 件+拆零数；0 取消），回车")

    def _enter_qty(self, text: str) -> None:
        line = self._line()
        assert line is not None
        if text == "0":
            self.back_qty.pop(line["line_no"], None)
        elif (units := parse_qty(text, self._ratio(line))) is None:
            self.say("请输入数量：件数，或 件数+拆零数（如 2+5）", error=True)
            return
        else:
            self.back_qty[line["line_no"]] = units
        self.say("")
        self._step("lines")
        self.ask("回车：所选行的退货数量；F6 切换库位；F2 提交")
        self._show_lines()

    def action_location(self) -> None:
        line = self._line()
        if line is not None:
            n = line["line_no"]
            self.where[n] = "sellable" if self.where[n] == "quarantine" else "quarantine"
            self._show_lines()

    def action_submit(self) -> None:
        if not self.back_qty:
            self.say("还没有退货明细：回车给所选行填退货数量", error=True)
            return
        self._step("reason")
        self.ask("退货原因，回车提交（Esc 返回）")

    def _enter_reason(self, text: str) -> None:
        if not text:
            self.say("购进退出须填写原因", error=True)
            return
        assert self.receipt is not None
        lines = [{"line_no": n, "qty": q, "location": self.where[n]} for n, q in sorted(self.back_qty.items())]
        self.work(self._send(self.receipt["id"], lines, text))

    async def _send(self, receipt_id: int, lines: list[Json], reason: str) -> None:
        try:
            ret = await self.calls.return_to_supplier(receipt_id, lines, reason)
        finally:
            if self.step == "reason":  # refused or not, back to the lines: nothing typed is lost
                self._step("lines")
                self.ask("回车：所选行的退货数量；F6 切换库位；F2 提交")
        self.to_list(f"购进退出单 {ret['id']} 已提交：{len(ret['lines'])} 行退回供应商")

    # --- Esc: one step back -------------------------------------------------------------------------------

    def action_leave(self) -> None:
        if self.step in ("qty", "reason"):
            self._step("lines")
            self.ask("回车：所选行的退货数量；F6 切换库位；F2 提交")
        elif self.step == "lines":
            self.to_list()
        else:
            self.app.pop_screen()
