"""F3 医保结算: pay the sale with the insured person's card.

Steps, each undone by Esc: identify the insured person (the card in the reader, a typed card number +
卡识别码, a scanned 医保电子凭证, or an ID number typed with its reason) → the split the service makes
(card lines and self-pay lines with the rule that keeps each off the card) → 2101 preview: fund, personal
account and the person's cash shown large before the pharmacist confirms → F4 records that the insured person
signed the purchase list (CARD-05) → the rest paid in cash (change shown) or by another tender, and 2102 settles
with the sale's completion.

The till computes none of it: every figure is the service's answer. A settlement the service took back on its
own (SETTLE-REVERSED) is said plainly — reversed, nothing taken from the card, what to do next — and the split is
shown again; one whose outcome it could not learn (SETTLE-UNCERTAIN) too, and F9 asks the service to resolve it
(2601 reversal).
A settle whose answer was lost on the way back is never sent again blindly — the till asks the sale's state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Digits, Footer, Input, Label, Static

from pos import keymap
from pos.client import ServiceError, ServiceUnavailable
from pos.codes import is_voucher
from pos.format import halfwidth, parse_yuan, yuan
from pos.screens.help import HelpScreen
from pos.screens.task import TaskScreen
from pos.state import TillState
from pos.widgets.status import StatusBar

INSUTYPES = {"310": "职工基本医疗保险", "320": "公务员医疗补助", "330": "大额医疗费用补助", "340": "离休人员医疗保障",
             "390": "城乡居民基本医疗保险", "392": "城乡居民大病医疗保险", "510": "生育保险"}
METHODS = {"card": "社保卡", "reader": "读卡器", "voucher": "医保电子凭证", "id": "身份证号（手工录入）"}
# Per identification mode: the title and the inputs it needs (field, placeholder). The first input also takes
# a scanned e-voucher in any mode.
MODES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "reader": ("读卡器：插入社保卡后回车识别（也可直接扫描医保电子凭证）", [("", "回车读卡 / 扫描电子凭证")]),
    "card": ("社保卡号 + 卡识别码：回车到下一项，最后一项回车识别", [("card_no", "社保卡号"), ("card_sn", "卡识别码")]),
    "voucher": ("医保电子凭证：请扫描患者出示的二维码", [("token", "扫描电子凭证")]),
    "id": ("身份证号手工录入（须填写原因）：回车到下一项，最后一项回车识别",
           [("certno", "身份证号"), ("name", "姓名"), ("reason", "手工录入原因（如：未带卡）")]),
}
INPUTS = ("#ida", "#idb", "#idc")
STEP_ACTIONS = {"identify": {"mode", "sign_in"}, "split": {"preview", "sign_in", "cursor"}, "preview": {"tender", "sign"},
                "uncertain": {"resolve"}, "unresolved": {"resolve", "cursor"}, "done": {"finish"}}
STEP_BOUND = {"mode", "sign_in", "preview", "tender", "sign", "resolve", "cursor", "finish"}
SALE_POLL_SECONDS = 1.0
RESUME_GROUP = "card-resume"  # the check on opening (signed in? identified before?): never blocks a key


class CardScreen(TaskScreen):
    """Dismissed with the completed sale (SaleOut), or None when the card did not pay."""

    MESSAGE_ID = "card-message"
    WORKER_GROUP = "card"

    KEYS = keymap.CARD
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState, sale: dict[str, Any] | None, voucher: str | None = None) -> None:
        super().__init__(state)
        self.sale = sale  # None: opened only for the settlements still to resolve
        self.voucher = voucher  # a scanned e-voucher that opened this screen: identify with it at once
        self.step = "identify" if sale is not None else "unresolved"
        self.mode = "reader"
        self.pay_mode = "cash"
        self.insured: dict[str, Any] | None = None
        self.split: dict[str, Any] | None = None
        self.preview: dict[str, Any] | None = None
        self.done: dict[str, Any] | None = None
        self.uncertain: dict[str, Any] | None = None  # SETTLE-UNCERTAIN's details: settlement_id, msgid, status
        self.unresolved: list[dict[str, Any]] = []
        self._warned_leaving = False

    @property
    def sale_id(self) -> str:
        """The sale this screen pays (opened without one, it only resolves settlements and never asks)."""
        assert self.sale is not None
        return str(self.sale["id"])

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        yield Static("", id="card-head", markup=False)
        with Vertical(id="card-identify"):
            yield Label("", id="id-title")
            for selector in INPUTS:
                yield Input(id=selector[1:], max_length=60)
        yield DataTable(id="card-lines", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="card-figures"):
            for key, label in (("fund", "统筹基金支付"), ("acct", "个人账户支付"), ("cash", "个人现金"), ("due", "还需支付")):
                with Vertical(classes="figure", id=f"{key}-box"):
                    yield Label(label, id=f"{key}-label")
                    yield Digits("", id=key)
        yield Static("", id="card-message", classes="message", markup=False)
        with Horizontal(id="card-pay"):
            yield Label("现金实收 (元)", id="pay-label")
            yield Input(id="tendered", max_length=64)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#card-lines", DataTable)
        table.can_focus = False
        if self.sale is None:
            self._go("unresolved")
            self._work(self._load_unresolved())
            return
        self._go("identify")
        self.action_mode("reader")
        card = self.state.card_in_reader
        if card is not None:
            self.say(f"读卡器中：{card.get('name', '')}（{card.get('card_no', '')}），回车识别")
        if self.voucher is not None:
            token, self.voucher = self.voucher, None
            self._work(self._identify({"method": "voucher", "token": token}))
        else:
            # Not a busy job: the sign-in check and a sale identified before are asked behind the cashier's
            # back, who may choose the mode (F5 …) and type meanwhile; what they send first cancels it.
            self.run_worker(self._quietly(self._resume()), group=RESUME_GROUP, exclusive=True)

    # --- helpers ----------------------------------------------------------------------------------

    def _go(self, step: str) -> None:
        """Show what this step needs and nothing else; the footer follows (check_action)."""
        self.step = step
        self._warned_leaving = False
        self.query_one("#card-identify").display = step == "identify"
        self.query_one("#card-lines").display = step != "identify"
        self.query_one("#card-figures").display = step in ("preview", "done", "uncertain")
        self.query_one("#card-pay").display = step == "preview"
        if step in ("split", "uncertain", "unresolved", "done"):
            self.set_focus(None)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in STEP_BOUND:
            return action in STEP_ACTIONS[self.step] and not (self.busy and action != "resolve")
        return True

    def _cash_label(self, self_pay_fen: int) -> None:
        self.query_one("#cash-label", Label).update(f"个人现金（含自费 {yuan(self_pay_fen)}）" if self_pay_fen else "个人现金")

    def _figures(self, fund: int | None, acct: int | None, cash: int | None, due: int | None,
                 due_label: str = "还需支付") -> None:
        for key, fen in (("fund", fund), ("acct", acct), ("cash", cash), ("due", due)):
            self.query_one(f"#{key}", Digits).update("" if fen is None else yuan(fen))
        if cash is None:
            self._cash_label(0)
        self.query_one("#due-label", Label).update(due_label)

    # --- step 1: who the card pays for ---------------------------------------------------------------

    async def _quietly(self, job: Awaitable[Any]) -> None:
        """A check the cashier does not wait for: its refusal is said, the screen never busy for it."""
        try:
            await job
        except ServiceError as exc:
            self.say(exc.text_zh, error=True)
        except ServiceUnavailable:
            self.say(self.OFFLINE_TEXT, error=True)

    async def _resume(self) -> None:
        """Opened again on a sale already identified: straight to its split (Esc goes back to identify)."""
        await self._check_sign_in()
        split = await self.client.card_split(self.sale_id)
        if split.get("insured") is not None and self.step == "identify":
            self._show_split(split)

    async def _check_sign_in(self) -> None:
        await self.state.check_insurance()
        if self.state.insurance_signed_in is False:
            self.say("今日尚未医保签到（9001），不能医保结算：按 F8 签到", error=True)

    def action_mode(self, mode: str) -> None:
        self.mode = mode
        title, fields = MODES[mode]
        self.query_one("#id-title", Label).update(title)
        for n, selector in enumerate(INPUTS):
            box = self.query_one(selector, Input)
            box.value = ""
            box.display = n < len(fields)
            box.password = mode == "voucher" and n == 0  # a voucher token is a credential: never on screen
            if n < len(fields):
                box.placeholder = fields[n][1]
        self.query_one(INPUTS[0], Input).focus()

    @on(Input.Submitted, "#ida, #idb, #idc")
    def _identify_submitted(self, event: Input.Submitted) -> None:
        if self.busy:
            return
        first = halfwidth(self.query_one(INPUTS[0], Input).value)
        if first and is_voucher(first):  # a scanned e-voucher, whatever the mode
            self.query_one(INPUTS[0], Input).value = ""
            self._work(self._identify({"method": "voucher", "token": first}))
            return
        fields = MODES[self.mode][1]
        shown = [self.query_one(sel, Input) for sel in INPUTS[:len(fields)]]
        position = shown.index(event.input) if event.input in shown else 0
        if position < len(shown) - 1:  # Enter goes to the next field; the last one sends
            shown[position + 1].focus()
            return
        body: dict[str, Any] = {"method": self.mode}
        body |= {name: halfwidth(box.value) for (name, _), box in zip(fields, shown, strict=True) if name}
        self._work(self._identify(body))

    def take_scan(self, code: str) -> None:
        """A code from the serial scanner while this screen is up: an e-voucher identifies; nothing else applies."""
        if is_voucher(code) and self.step == "identify" and not self.busy:
            self._work(self._identify({"method": "voucher", "token": code}))
        else:
            self.say("医保结算中不能扫商品，请先按 Esc 返回收银", error=True)

    def card_event(self, data: dict[str, Any]) -> None:
        """The till's reader: a card inserted while identifying is offered at once."""
        if self.step != "identify":
            return
        if data.get("event") == "inserted":
            card = data.get("card") or {}
            self.action_mode("reader")
            self.say(f"读卡器中：{card.get('name', '')}（{card.get('card_no', '')}），回车识别")
        elif data.get("event") == "removed":
            self.say("社保卡已拔出")

    async def _identify(self, body: dict[str, Any]) -> None:
        self.workers.cancel_group(self, RESUME_GROUP)  # the cashier's own identification comes first
        self.say("正在识别参保人（1101）…")
        self.insured = await self.client.identify(self.sale_id, body)
        self._show_split(await self.client.card_split(self.sale_id))

    # --- step 2: the split -----------------------------------------------------------------------------

    def _show_split(self, split: dict[str, Any]) -> None:
        self.split = split
        self.insured = split.get("insured") or self.insured
        who = self.insured or {}
        self.query_one("#card-head", Static).update(
            f"参保人 {who.get('psn_name', '')}  身份证 {who.get('certno_masked', '')}  "
            f"{INSUTYPES.get(who.get('insutype', ''), who.get('insutype', ''))}\n"
            f"个人账户余额 {yuan(who.get('balc_fen', 0))} 元  识别方式 {METHODS.get(who.get('method', ''), '')}"
            + (f"  代购人 {who['buyer_name']} {who.get('buyer_certno_masked', '')}" if who.get("buyer_name") else ""))
        table = self.query_one("#card-lines", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "品名", "金额", "支付", "原因")
        for n, ln in enumerate(split["lines"], start=1):
            reasons = "；".join(f"{r.get('code', '')} {r.get('message_zh', '')}" for r in ln.get("reasons") or [])
            table.add_row(str(n), ln["name"], yuan(ln["amount_fen"]), "医保" if ln["card"] else "自费", reasons,
                          key=str(ln["sale_line_id"]))
        self._figures(None, None, None, None)
        self._go("split")
        self.say(f"医保可支付 {yuan(split['card_total_fen'])} 元，自费 {yuan(split['self_pay_fen'])} 元。"
                 "核对后按 F2 或回车预结算（2101）")

    def action_preview(self) -> None:
        if not self.busy:
            self._work(self._preview())

    async def _preview(self) -> None:
        self.say("正在预结算（2101）…")
        pre = await self.client.card_preview(self.sale_id)
        self.preview = pre
        # 个人现金 is all the buyer pays beside the card: the card lines' cash part and the self-pay lines (the
        # service's due_otherwise), so it never reads 0.00 beside a sum still to pay.
        self._figures(pre["fund_pay_fen"], pre["acct_pay_fen"], pre["due_otherwise_fen"], pre["due_otherwise_fen"])
        self._cash_label(pre["self_pay_fen"])
        self._go("preview")
        self.action_tender("cash")
        due = pre["due_otherwise_fen"]
        # The figures are the Digits above; the message says what they add up to and what to do next.
        self.say(f"医保 {yuan(pre['card_total_fen'])} 元 + 自费 {yuan(pre['self_pay_fen'])} 元；"
                 f"结算后个人账户余额 {yuan(pre['balc_after_fen'])} 元\n"
                 + (f"还需支付 {yuan(due)} 元：输入现金实收回车确认结算（F3 其他支付）" if due else "无需另付：回车确认结算"))

    # --- step 3: pay the rest and settle -------------------------------------------------------------

    def action_tender(self, mode: str) -> None:
        self.pay_mode = mode
        self.query_one("#pay-label", Label).update("现金实收 (元)" if mode == "cash" else "其他支付凭证号")
        tendered = self.query_one("#tendered", Input)
        tendered.value = ""
        tendered.focus()

    def action_sign(self) -> None:
        """CARD-05: the insured person (or the proxy buyer) has signed the purchase list shown: recorded on the
        sale; where the store requires it, the settle is refused without it."""
        if not self.busy and self.step == "preview":
            self._work(self._sign())

    async def _sign(self) -> None:
        await self.client.card_signature(self.sale_id)
        self.say("已记录参保人签字确认（购药清单）：输入现金实收回车确认结算")
        self.query_one("#tendered", Input).focus()

    @on(Input.Submitted, "#tendered")
    def _confirm(self, event: Input.Submitted) -> None:
        if self.busy or self.step != "preview" or self.preview is None:
            return
        due = self.preview["due_otherwise_fen"]
        tenders: list[dict[str, Any]] = []
        if due and self.pay_mode == "cash":
            tendered = parse_yuan(event.value)
            if tendered is None:
                self.say("请输入现金实收金额，例如 20 或 20.00", error=True)
                return
            tenders = [{"kind": "cash", "amount_fen": due, "tendered_fen": tendered}]
        elif due:
            tenders = [{"kind": "other", "amount_fen": due, "reference": event.value.strip()}]
        self._work(self._settle(tenders))

    async def _settle(self, tenders: list[dict[str, Any]]) -> None:
        self.say("正在医保结算（2102）… 请勿重复操作")
        sale_id = self.sale_id
        try:
            sale = await self.client.card_settle(sale_id, tenders)
        except ServiceError as exc:
            if exc.code in ("SETTLE-UNCERTAIN", "SETTLE-REVERSED"):
                self._uncertain(exc.details, exc.text_zh)
                return
            raise
        except ServiceUnavailable as exc:
            if exc.not_sent:
                raise
            await self._learn_outcome(sale_id)
            return
        self._done(sale)

    async def _learn_outcome(self, sale_id: str) -> None:
        """The settle's answer was lost: ask the sale (never send the settle again without knowing)."""
        self.say("未收到结算结果，正在向服务查询该销售的状态… 请勿重复结算", error=True)
        while True:
            try:
                sale = await self.client.get_sale(sale_id)
                break
            except ServiceUnavailable:
                await asyncio.sleep(SALE_POLL_SECONDS)
        if sale["status"] == "completed":
            self._done(sale)
        elif sale["status"] == "settling":
            found = [r for r in await self.client.unresolved_settlements() if r["sale_id"] == sale_id]
            self._uncertain({"settlement_id": found[0]["id"], "msgid": found[0]["msgid"], "status": found[0]["status"]}
                            if found else {}, "[SETTLE-UNCERTAIN] 医保结算结果待确认")
        else:
            self._go("preview")
            self.say("结算没有完成（服务未收到或已撤销）：可再次回车确认结算，或 Esc 返回", error=True)

    def _done(self, sale: dict[str, Any]) -> None:
        self.done = sale
        card = sum(t["amount_fen"] for t in sale.get("tenders", []) if t["kind"] == "insurance")
        pre = self.preview or {}
        paid = sum(t["amount_fen"] for t in sale.get("tenders", []) if t["kind"] != "insurance")  # as paid, not planned
        self._figures(pre.get("fund_pay_fen"), pre.get("acct_pay_fen"), paid, sale.get("change_fen", 0), due_label="找零")
        self._go("done")
        self.say(f"医保结算完成  单号 {sale.get('sale_no')}  医保支付 {yuan(card)} 元  找零 "
                 f"{yuan(sale.get('change_fen', 0))} 元\n回车或 Esc 返回收银")

    # --- a settlement whose outcome is not known ----------------------------------------------------

    def _uncertain(self, details: dict[str, Any], text: str) -> None:
        self.uncertain = details
        if details.get("status") == "reversed":  # taken back at once by 2601: the sale is open again
            self.preview = None
            if self.split is not None:
                self._show_split(self.split)
            self.say(text + "\n可按 F2 重新预结算，或 Esc 返回改用其他方式支付", error=True)
            return
        self._figures(None, None, None, None)
        self._go("uncertain")
        self.say(f"{text}\n[SETTLE-UNCERTAIN] 结算结果待确认（消息号 {details.get('msgid', '—')}）："
                 "按 F9 向医保中心冲正确认；处理前该销售不能继续", error=True)

    def action_resolve(self) -> None:
        if self.busy:
            return
        if self.step == "unresolved":
            table = self.query_one("#card-lines", DataTable)
            if not self.unresolved:
                self.say("没有待确认的医保结算")
                return
            row = self.unresolved[min(table.cursor_row, len(self.unresolved) - 1)]
            self._work(self._resolve(row["id"]))
        elif self.uncertain and self.uncertain.get("settlement_id"):
            self._work(self._resolve(int(self.uncertain["settlement_id"])))

    async def _resolve(self, settlement_id: int) -> None:
        self.say("正在向医保中心冲正确认（2601）…")
        row = await self.client.resolve_settlement(settlement_id)
        if self.step == "unresolved":
            await self._load_unresolved()
            self.say(f"结算 #{settlement_id}：{_STATUS_ZH.get(row['status'], row['status'])}", error=row["status"] == "uncertain")
            return
        if row["status"] == "reversed":
            self.uncertain = None
            if self.split is not None:
                self._show_split(await self.client.card_split(self.sale_id))
            self.say("已冲正（2601）：本笔医保结算已撤销。可按 F2 重新预结算，或 Esc 返回改用其他方式支付", error=True)
        elif row["status"] == "settled":
            self._done(await self.client.get_sale(self.sale_id))
        else:
            self.say(f"[SETTLE-UNCERTAIN] 冲正未成功（{row.get('error') or '医保中心无应答'}）：稍后再按 F9 重试", error=True)

    async def _load_unresolved(self) -> None:
        self.unresolved = await self.client.unresolved_settlements()
        table = self.query_one("#card-lines", DataTable)
        table.clear(columns=True)
        table.add_columns("结算", "销售", "消息号", "状态", "说明")
        for row in self.unresolved:
            table.add_row(str(row["id"]), row["sale_id"][:8], row["msgid"], _STATUS_ZH.get(row["status"], row["status"]),
                          row.get("error") or "")
        self.query_one("#card-head", Static).update("待确认的医保结算：↑↓ 选择，F9 冲正确认（2601）")
        if not self.unresolved:
            self.say("没有待确认的医保结算。Esc 返回")
        else:
            self.say(f"{len(self.unresolved)} 笔医保结算结果待确认，处理前对应销售不能继续", error=True)

    # --- keys -------------------------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#card-lines", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def action_finish(self) -> None:
        self.dismiss(self.done)

    def action_sign_in(self) -> None:
        if not self.busy:
            self._work(self._sign_in())

    async def _sign_in(self) -> None:
        self.say("正在医保签到（9001）…")
        out = await self.state.sign_in_insurance()
        self.say(f"医保签到成功：{out.get('opter_name', '')} 签到号 {out.get('sign_no', '')}")

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS))

    def action_back(self) -> None:
        if self.busy:
            self.say("正在与医保中心通信，请等待结果，不要重复操作", error=True)
            return
        if self.step == "done":
            self.dismiss(self.done)
        elif self.step == "preview" and self.split is not None:
            self._show_split(self.split)
        elif self.step == "split":
            self._go("identify")
            self.action_mode(self.mode)
            self.say("重新识别参保人，或 Esc 返回收银")
        elif self.step == "uncertain" and not self._warned_leaving:
            self._warned_leaving = True
            self.say("[SETTLE-UNCERTAIN] 结算结果仍待确认：按 F9 冲正确认；再按 Esc 暂时离开（该销售保持锁定）", error=True)
        else:
            self.dismiss(None)


_STATUS_ZH = {"intent": "已发出待确认", "uncertain": "结果不确定", "reversed": "已冲正撤销", "settled": "已结算",
              "failed": "未结算"}

