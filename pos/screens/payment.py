"""Payment: cash tendered → the service completes the sale and answers the change, shown large; or another
tender (bank card, QR …) with its reference. The completion is retried with the same sale id until the
service answers, so a lost answer never becomes a second sale or a forgotten one."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Digits, Footer, Input, Label, Static

from pos import keymap
from pos.client import ServiceError
from pos.format import parse_yuan, yuan
from pos.state import TillState


class PaymentScreen(ModalScreen[dict[str, Any] | None]):
    KEYS = keymap.PAYMENT
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState, sale: dict[str, Any]) -> None:
        super().__init__()
        self.client = state.client
        self.sale = sale
        self.mode = "cash"
        self.busy = False
        self.done: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="payment"):
            yield Label("收款", classes="dialog-title")
            yield Label("应收 (元)")
            yield Digits(yuan(self.sale["total_fen"]), id="due")
            yield Label("现金实收 (元)，回车确认（不输入直接回车：收应收金额）", id="tender-label")
            yield Input(id="tendered", max_length=20)
            yield Label("", id="change-label")
            yield Digits("", id="change")
            yield Static("", id="pay-message", classes="message", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#tendered", Input).focus()

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#pay-message", Static)
        message.update(text)
        message.set_class(error, "error")

    def action_mode(self, mode: str) -> None:
        if self.busy or self.done:
            return
        self.mode = mode
        self.query_one("#tender-label", Label).update(
            "现金实收 (元)，回车确认（不输入直接回车：收应收金额）" if mode == "cash" else "其他支付：输入凭证号/交易号，回车确认（金额为应收）")
        tendered = self.query_one("#tendered", Input)
        tendered.value = ""
        tendered.focus()

    def action_back(self) -> None:
        if self.busy:
            self.say("正在收款，请等待服务确认，不要重复收款", error=True)
            return
        self.dismiss(self.done)

    @on(Input.Submitted, "#tendered")
    def _submit(self, event: Input.Submitted) -> None:
        if self.done is not None:  # Enter after the change is shown: next customer
            self.dismiss(self.done)
            return
        if self.busy:
            return
        total = self.sale["total_fen"]
        if self.mode == "cash":
            # Enter on an empty field: the exact amount (the customer handed what is due, or the cashier checks it)
            tendered = total if not event.value.strip() else parse_yuan(event.value)
            if tendered is None:
                self.say("请输入实收金额，例如 20 或 20.00", error=True)
                return
            tender = {"kind": "cash", "amount_fen": total, "tendered_fen": tendered}
        else:
            tender = {"kind": "other", "amount_fen": total, "reference": event.value.strip()}
        self.busy = True
        self.run_worker(self._complete(tender), exclusive=True)

    async def _complete(self, tender: dict[str, Any]) -> None:
        def retrying(attempt: int) -> None:
            self.say(f"连接中断，正在重试确认收款（第 {attempt} 次）… 请勿重复收款", error=True)

        self.say("正在收款…")
        try:
            done = await self.client.complete(self.sale["id"], [tender], on_retry=retrying)
        except ServiceError as exc:
            self.busy = False
            self.say(f"[{exc.code}] {exc.message_zh}", error=True)
            self.query_one("#tendered", Input).focus()
            return
        self.busy = False
        self.done = done
        self.query_one("#change-label", Label).update(f"找零 (元)   单号 {done.get('sale_no')}")
        self.query_one("#change", Digits).update(yuan(done["change_fen"]))
        self.say("收款完成，按回车或 Esc 开始下一笔")
        self.query_one("#tendered", Input).value = ""
