"""收货验收 (后台 F2): a delivery entered by scanning its boxes, inspected line by line, approved by another person.

The steps (GSP-05, the service judges each): the receipts waiting (草稿 to inspect, 已验收 to approve) → F3 a new
receipt: the supplier (↑↓ and Enter), the 随货同行单 and invoice numbers → each line: scan the box's barcode, then
批号, 生产日期, 有效期, 数量 (packs), 单价 (元), 库区; a box's 追溯码 scanned then goes to the line under the cursor,
checked by the service at once (its form, twice on the receipt, received before) and sent with the line → F2 the
receipt goes to the service as a draft → 验收: per line F5 合格 / F6 拒收 with a reason / F7 待验, F2 sends the
verdicts → the person in charge (not the inspector) approves it from the list with F9. Nothing is sellable before
the approval; the service refuses what the law refuses."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.client import Json
from pos.codes import GTIN_LENGTHS, is_trace_code
from pos.format import parse_yuan, yuan
from pos.screens.office import OfficeScreen
from pos.widgets.sale_lines import fit

STATUS_ZH = {"draft": "待验收", "inspected": "待批准", "approved": "已批准"}
OUTCOME_ZH = {"pending": "未验", "accepted": "合格", "rejected": "拒收", "quarantine": "待验"}
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")

# A line's fields in the order they are asked, each with its question.
FIELDS = (("lot_no", "批号"), ("manufactured_on", "生产日期（如 20260105）"), ("expires_on", "有效期至（如 20280104）"),
          ("qty", "数量（件）"), ("unit_cost_fen", "单价（元/件）"), ("zone_code", "库区编码"))


def looks_traced(code: str) -> bool:
    """A 追溯码 scanned where a box's barcode is asked: a valid one, or a long run of digits no GTIN has — the service
    says what is wrong with it (catalog.codes.check_trace_code) rather than "no such barcode"."""
    return is_trace_code(code) or (code.isdigit() and len(code) > max(GTIN_LENGTHS))


def parse_date(text: str) -> date | None:
    """20260105 or 2026-01-05; anything else None."""
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


class ReceivingScreen(OfficeScreen):
    KEYS = keymap.RECEIVING
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "收货验收"
    # Nine columns do not fit 80: the manufacture date is asked and kept, not shown; a reason is cut to its start.
    COLUMNS = ("#", "品名/供应商", "批号", "有效期", "数量", "单价", "库区", "结论")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.step = "list"
        self.receipts: list[Json] = []  # the list step: receipts waiting for 验收 or approval
        self.suppliers: list[Json] = []
        self.head: Json = {}  # the new receipt: supplier_id, dynt_no, purc_invo_no
        self.lines: list[Json] = []  # its lines as typed (ReceiptLineIn), with the item's name for the table
        self.line: Json = {}  # the line being typed
        self.field = 0  # which of FIELDS it asks (-1: the barcode)
        self.receipt: Json | None = None  # the receipt being inspected (ReceiptOut)
        self.verdicts: dict[int, Json] = {}  # line_no → {outcome, reason}
        self.names: dict[int, str] = {}  # item id → name, from the barcodes scanned
        self.zones: dict[int, str] = {}  # line no → zone code, of the receipt entered here

    def on_mount(self) -> None:
        self.to_list()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = {"new": self.step == "list" and self.state.may("receipt.write"),
                "approve": self.step == "list" and self.state.may("batch.write"),
                "submit": self.step in ("lines", "inspect"),
                "verdict": self.step == "inspect"}
        return live.get(action, True)

    def _step(self, step: str) -> None:
        self.step = step
        self.keys_follow(step)

    # --- the list: what waits for 验收 and for approval --------------------------------------------

    def to_list(self, said: str = "") -> None:
        self._step("list")
        self.title_says("收货验收：待验收 / 待批准的入库单")
        self.ask("回车：验收所选草稿；F3 新入库单；F9 批准所选")
        self.work(self._load_list(), said)

    async def _load_list(self) -> None:
        waiting = [r for r in await self.calls.receipts() if r["status"] in ("draft", "inspected")]
        self.receipts = waiting
        if self.step == "list":
            self.rows([(r["id"], f"随货单 {r['dynt_no'] or '—'}", "", r["business_date"], len(r["lines"]), "", "",
                        STATUS_ZH.get(r["status"], r["status"])) for r in waiting])

    def _chosen_receipt(self) -> Json | None:
        return self.receipts[self.row] if self.step == "list" and 0 <= self.row < len(self.receipts) else None

    def action_approve(self) -> None:
        receipt = self._chosen_receipt()
        if receipt is None or receipt["status"] != "inspected":
            self.say("请选择一张已验收（待批准）的入库单", error=True)
            return
        self.work(self._approve(receipt["id"]))

    async def _approve(self, receipt_id: int) -> None:
        await self.calls.approve(receipt_id)
        self.to_list(f"入库单 {receipt_id} 已批准：合格药品已入可售库存")

    # --- a new receipt: supplier, vouchers, lines ----------------------------------------------------

    def action_new(self) -> None:
        self._step("supplier")
        self.title_says("新入库单：选择供应商（↑↓ 后回车）")
        self.ask("↑↓ 选择供应商后回车")
        self.head, self.lines, self.line = {}, [], {}
        self.work(self._load_suppliers())

    async def _load_suppliers(self) -> None:
        self.suppliers = [s for s in await self.calls.suppliers() if s["active"]]
        self.rows([(s["id"], fit(s["name"], 20).rstrip(), s["licence_no"], s["licence_expiry"], "", "", "",
                    "证照有效" if s["licence_valid_today"] else "证照过期") for s in self.suppliers], keep=False)

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        text = self.typed()
        handler = getattr(self, f"_enter_{self.step}")
        handler(text)

    def _enter_list(self, _: str) -> None:
        receipt = self._chosen_receipt()
        if receipt is None or receipt["status"] != "draft":
            self.say("请选择一张待验收的草稿入库单（或 F3 新建）", error=True)
            return
        if not self.state.may("receipt.inspect"):
            self.say(f"验收须由{self.state.who_may('receipt.inspect')}办理", error=True)
            return
        self.to_inspect(receipt)

    def _enter_supplier(self, _: str) -> None:
        if not 0 <= self.row < len(self.suppliers):
            self.say("没有可选的供应商", error=True)
            return
        supplier = self.suppliers[self.row]
        self.head = {"supplier_id": supplier["id"], "name": supplier["name"]}
        self._step("dynt")
        self.title_says(f"新入库单  供应商：{supplier['name']}")
        self.ask("随货同行单号，回车")

    def _enter_dynt(self, text: str) -> None:
        self.head["dynt_no"] = text
        self._step("invoice")
        self.ask("采购发票号，回车（可空）")

    def _enter_invoice(self, text: str) -> None:
        self.head["purc_invo_no"] = text
        self._step("lines")
        self.rows([], keep=False)
        self.next_line()

    def next_line(self) -> None:
        self.line, self.field = {}, -1
        self.title_says(f"新入库单  {self.head.get('name', '')}  随货单 {self.head.get('dynt_no') or '—'}"
                        f"  已录 {len(self.lines)} 行（F2 提交）")
        self.ask("扫描商品条码；扫描追溯码记入所选行（F2 提交入库单）")

    def _enter_lines(self, text: str) -> None:
        if self.field < 0:
            if text and looks_traced(text):
                self._trace(text)
            elif text:
                self.work(self._scanned(text))
            return
        name, words = FIELDS[self.field]
        value: Any = text
        if name in ("manufactured_on", "expires_on"):
            value = parse_date(text)
        elif name == "qty":
            value = int(text) if text.isdigit() and int(text) > 0 else None
        elif name == "unit_cost_fen":
            value = parse_yuan(text)
        elif not text:
            value = None
        if value is None:
            self.say(f"请输入{words}", error=True)
            self.ask(f"{words}，回车", text)
            return
        self.line[name] = value.isoformat() if isinstance(value, date) else value
        self.say("")
        self._ask_field(self.field + 1)

    async def _scanned(self, code: str) -> None:
        self.input.value = ""  # refused or found, the next scan starts on an empty field
        item = await self.calls.item_by_barcode(code)
        self.names[item["id"]] = item["name"]
        self.line = {"barcode": code, "name": item["name"], "zone": item.get("zone_code") or ""}
        self.say(f"{item['name']} {item['spec']}")
        self._ask_field(0)

    # --- 追溯码 scanned at receipt: each names one box of the line under the cursor -------------------------

    def _trace(self, code: str) -> None:
        if not 0 <= self.row < len(self.lines):
            self.say("请先录入该批商品的明细（扫描商品条码），再扫描其追溯码", error=True)
            self.input.value = ""
            return
        self.work(self._check_trace(code, self.row))

    async def _check_trace(self, code: str, at: int) -> None:
        self.input.value = ""
        scanned = [c for ln in self.lines for c in ln["trace_codes"]]
        kept = (await self.calls.check_trace_code(code, scanned))["code"]  # refused: the service's words shown
        line = self.lines[at]
        line["trace_codes"].append(kept)
        self._show_lines()
        self.say(f"追溯码 {kept} 已记入第 {at + 1} 行 {line['name']}（{len(line['trace_codes'])}/{line['qty']} 码）")

    def _show_lines(self) -> None:
        self.rows([(n, ln["name"], ln["lot_no"], ln["expires_on"], ln["qty"], yuan(ln["unit_cost_fen"]),
                    ln["zone_code"], f"追溯码 {len(ln['trace_codes'])}" if ln["trace_codes"] else "")
                   for n, ln in enumerate(self.lines, 1)])

    def _ask_field(self, n: int) -> None:
        if n == len(FIELDS):
            self._line_done()
            return
        self.field = n
        name, words = FIELDS[n]
        last = self.lines[-1] if self.lines else {}
        preset = (self.line.get("zone") or last.get("zone_code", "")) if name == "zone_code" else ""
        self.ask(f"{self.line['name']}：{words}，回车", preset)

    def _line_done(self) -> None:
        line = self.line
        self.lines.append({k: line[k] for k in ("barcode", "lot_no", "manufactured_on", "expires_on", "qty",
                                                "unit_cost_fen", "zone_code")} | {"name": line["name"], "trace_codes": []})
        self._show_lines()
        self.table.move_cursor(row=len(self.lines) - 1)
        self.next_line()

    def action_submit(self) -> None:
        if self.step == "lines":
            if not self.lines:
                self.say("还没有明细：请先扫描商品条码", error=True)
                return
            body = {k: v for k, v in self.head.items() if k != "name"} | {
                "lines": [{k: v for k, v in ln.items() if k != "name"} for ln in self.lines]}
            self.work(self._create(body))
        elif self.step == "inspect":
            self.work(self._inspect())

    async def _create(self, body: Json) -> None:
        receipt = await self.calls.create_receipt(body)
        self.zones = {n: ln["zone_code"] for n, ln in enumerate(body["lines"], 1)}  # the answer names zones by id
        self.to_inspect(receipt, f"入库单 {receipt['id']} 已保存（待验收）")

    # --- 验收: the inspector's verdict per line ---------------------------------------------------------

    def to_inspect(self, receipt: Json, said: str = "") -> None:
        if self.receipt is not None and self.receipt["id"] != receipt["id"]:
            self.zones = {}
        self.receipt, self.verdicts = receipt, {}
        self._step("inspect")
        self.title_says(f"验收  入库单 {receipt['id']}  随货单 {receipt['dynt_no'] or '—'}（F5 合格 F6 拒收 F7 待验，F2 提交）")
        self.ask("↑↓ 选择行，F5/F6/F7 给出结论，F2 提交验收")
        self.say(said or "请逐行验收")
        self._show_receipt(keep=False)
        if missing := sorted({ln["item_id"] for ln in receipt["lines"]} - set(self.names)):
            self.work(self._fetch_names(missing))  # a receipt entered elsewhere (another till, the CLI, an import)

    async def _fetch_names(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            self.names[item_id] = (await self.calls.item(item_id))["name"]
        if self.step == "inspect":
            self._show_receipt()

    def _show_receipt(self, keep: bool = True) -> None:
        assert self.receipt is not None
        rows = []
        for ln in self.receipt["lines"]:
            verdict = self.verdicts.get(ln["line_no"], {})
            outcome = OUTCOME_ZH[verdict.get("outcome", "pending")]
            if verdict.get("reason"):
                outcome = fit(f"{outcome}：{verdict['reason']}", 16).rstrip()
            rows.append((ln["line_no"], fit(self.names.get(ln["item_id"], f"商品 {ln['item_id']}"), 20).rstrip(),
                         ln["lot_no"], ln["expires_on"], ln["qty"], yuan(ln["unit_cost_fen"]),
                         self.zones.get(ln["line_no"], ""), outcome))
        self.rows(rows, keep=keep)

    def _selected_line(self) -> Json | None:
        lines = (self.receipt or {}).get("lines") or []
        return lines[self.row] if 0 <= self.row < len(lines) else None

    def action_verdict(self, outcome: str) -> None:
        line = self._selected_line()
        if line is None:
            return
        if outcome == "rejected":  # the reason first: a rejection without one is refused by the service
            self._step("reason")
            self.ask(f"第 {line['line_no']} 行拒收原因，回车（Esc 取消）")
            return
        self.verdicts[line["line_no"]] = {"outcome": outcome}
        self._show_receipt()
        self.action_cursor(1)

    def _enter_reason(self, text: str) -> None:
        line = self._selected_line()
        if not text or line is None:
            self.say("拒收须填写原因", error=True)
            return
        self.verdicts[line["line_no"]] = {"outcome": "rejected", "reason": text}
        self._step("inspect")
        self.ask("↑↓ 选择行，F5/F6/F7 给出结论，F2 提交验收")
        self._show_receipt()
        self.action_cursor(1)

    def _enter_inspect(self, _: str) -> None:
        self.action_verdict("accepted")  # Enter on a line: 合格, the common case

    async def _inspect(self) -> None:
        assert self.receipt is not None
        if missing := [ln["line_no"] for ln in self.receipt["lines"] if ln["line_no"] not in self.verdicts]:
            self.say(f"还有 {len(missing)} 行未验收（第 {'、'.join(map(str, missing[:8]))} 行）", error=True)
            return
        verdicts = [{"line_no": n} | v for n, v in sorted(self.verdicts.items())]
        receipt = await self.calls.inspect(self.receipt["id"], verdicts)
        self.to_list(f"入库单 {receipt['id']} 已验收，待负责人批准（批准人不能是验收人）")

    # --- Esc: one step back ---------------------------------------------------------------------------

    def action_leave(self) -> None:
        if self.step == "reason":
            self._step("inspect")
            self.ask("↑↓ 选择行，F5/F6/F7 给出结论，F2 提交验收")
        elif self.step == "lines" and self.field >= 0:
            self.next_line()  # the half-typed line is dropped; the lines before it stay
        elif self.step != "list":
            self.to_list()
        else:
            self.app.pop_screen()
