"""Login: user and PIN at this till (the till code comes from config); then the shift is joined or opened."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from pos.client import ServiceError, ServiceUnavailable
from pos.screens.shift import OpenShiftScreen
from pos.widgets.status import StatusBar

if TYPE_CHECKING:
    from pos.app import DingdianTill


class LoginScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "返回", key_display="Esc")]

    app: DingdianTill  # type: ignore[assignment]

    def __init__(self, notice: str = "") -> None:
        super().__init__()
        self.notice = notice  # why the login is asked again (a lost session), shown until the next attempt

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Vertical(id="login-box"):
            yield Label("丁点药房 收银登录", id="login-title")
            yield Label(f"收款机 {self.app.till_code}", id="login-till")
            yield Input(placeholder="工号", id="username", max_length=30)
            yield Input(placeholder="密码 (PIN)", id="pin", password=True, max_length=64)
            yield Static(self.notice, id="login-message", classes="message error" if self.notice else "message",
                         markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.app.refresh_status()
        self.query_one("#username", Input).focus()

    def action_back(self) -> None:
        """Esc: one step back — from the PIN to the user name."""
        self.query_one("#pin", Input).value = ""
        self.query_one("#username", Input).focus()

    @on(Input.Submitted, "#username")
    def _to_pin(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def _login(self) -> None:
        self.run_worker(self._sign_in(), exclusive=True, group="login")

    def _say(self, text: str, error: bool = True) -> None:
        message = self.query_one("#login-message", Static)
        message.update(text)
        message.set_class(error, "error")

    async def _sign_in(self) -> None:
        username = self.query_one("#username", Input).value.strip()
        pin_input = self.query_one("#pin", Input)
        client = self.app.client
        self._say("正在登录…", error=False)
        try:
            out = await client.login(username, pin_input.value, self.app.till_code)
        except ServiceError as exc:
            pin_input.value = ""
            pin_input.focus()
            self._say(f"[{exc.code}] {exc.message_zh}")
            return
        except ServiceUnavailable:
            self._say("无法连接收银服务，请检查服务是否启动（正在自动重试连接）")
            return
        self.app.signed_in(out["user"]["display_name"])
        await self._join_shift()

    async def _join_shift(self) -> None:
        client = self.app.client
        try:
            self.app.shift = await client.current_shift()
        except ServiceError as exc:
            if exc.code != "SHIFT-CLOSED":
                self._say(f"[{exc.code}] {exc.message_zh}")
                return
            if self.app.auto_open_float_fen is not None:
                self.app.shift = await client.open_shift(self.app.auto_open_float_fen)
            else:
                self.app.push_screen(OpenShiftScreen(), self._shift_opened)
                return
        except ServiceUnavailable:
            self._say("无法连接收银服务，请稍后重试")
            return
        self._to_sale()

    def _shift_opened(self, shift: dict | None) -> None:
        if shift is None:
            self._say("未开班，不能收款", error=True)
            self.query_one("#pin", Input).focus()
            return
        self.app.shift = shift
        self._to_sale()

    def _to_sale(self) -> None:
        from pos.screens.sale import SaleScreen

        self.app.switch_screen(SaleScreen())
