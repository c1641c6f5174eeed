"""Login: user and PIN at this till (the till code comes from config); then the shift is joined or opened. For the
back office alone (`dingdian office`, TillState.office) the login is at no till, opens no shift, and lets in only a
post that has something in the back office."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from pos import keymap
from pos.client import ServiceError, ServiceUnavailable
from pos.format import halfwidth
from pos.screens.backoffice import allowed
from pos.screens.shift import OpenShiftScreen
from pos.state import TillState
from pos.widgets.footer import TillFooter
from pos.widgets.status import StatusBar


class LoginScreen(Screen[None]):
    """Tells the app (messages): LoggedIn once the service took the PIN, Ready once the shift is known."""

    KEYS = keymap.LOGIN
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    class LoggedIn(Message):
        def __init__(self, user_name: str) -> None:
            super().__init__()
            self.user_name = user_name

    class Ready(Message):
        """Logged in, the shift open: the sale can begin (or go on, after a change of hands). `note`: what the
        cashier is told of the shift (one another person opened: it is the till's, and goes on)."""

        def __init__(self, note: str = "") -> None:
            super().__init__()
            self.note = note

    def __init__(self, state: TillState, notice: str = "", locked: bool = False) -> None:
        super().__init__()
        self.state = state
        self.client = state.client
        self.notice = notice  # why the login is asked again (a lost session), shown until the next attempt
        self.locked = locked  # Ctrl+S: over the sale screen, which comes back as it was after the login

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        with Vertical(id="login-box"):
            if self.state.office:
                yield Label("丁点药房 后台登录", id="login-title")
                yield Label("浏览器后台（不含收银）", id="login-till")
            else:
                yield Label("丁点药房 收银已锁定 — 换人登录" if self.locked else "丁点药房 收银登录", id="login-title")
                yield Label(f"收款机 {self.state.till_code}", id="login-till")
            yield Input(placeholder="工号", id="username", max_length=30)
            yield Input(placeholder="密码 (PIN)", id="pin", password=True, max_length=64)
            yield Static(self.notice, id="login-message", classes="message error" if self.notice else "message",
                         markup=False)
        yield TillFooter()

    def on_mount(self) -> None:
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
        username = halfwidth(self.query_one("#username", Input).value)
        pin_input = self.query_one("#pin", Input)
        self._say("正在登录…", error=False)
        try:
            # The back office alone logs in at no till: its session can do nothing a till's session is for.
            out = await self.client.login(username, halfwidth(pin_input.value),
                                          None if self.state.office else self.state.till_code)
        except ServiceError as exc:
            pin_input.value = ""
            pin_input.focus()
            self._say(f"[{exc.code}] {exc.message_zh}")
            return
        except ServiceUnavailable:
            self._say("无法连接收银服务，请检查服务是否启动（正在自动重试连接）")
            return
        if self.state.office:
            await self._to_office(pin_input, out["user"]["display_name"])
            return
        self.post_message(self.LoggedIn(out["user"]["display_name"]))
        if self.locked:  # the till's shift is known: the sale screen asks it again beside the sale, not before
            self.post_message(self.Ready())
            return
        await self._join_shift()

    async def _to_office(self, pin_input: Input, user_name: str) -> None:
        """The back office alone: only a post with something in it gets in (the same rights as Ctrl+B's menu, the
        service's); anyone else is told so and their session ends at once."""
        if not allowed(self.state):
            try:
                await self.client.logout()
            except (ServiceError, ServiceUnavailable):
                pass  # the token is forgotten all the same
            pin_input.value = ""
            self.query_one("#username", Input).focus()
            self._say("本岗位没有后台功能，请在收款机操作\nYour post has no back office")
            return
        self.post_message(self.LoggedIn(user_name))
        self.post_message(self.Ready())

    async def _join_shift(self) -> None:
        try:
            self.state.update(shift=await self.client.current_shift())
        except ServiceError as exc:
            if exc.code != "SHIFT-CLOSED":
                self._say(f"[{exc.code}] {exc.message_zh}")
                return
            if not self.state.may("shift.operate"):
                # A manager or a 医保 administrator opens no shift: the till takes them to its back office (Ctrl+B),
                # the sale saying it is closed.
                self.state.update(shift=None)
                self.post_message(self.Ready("本收款机未开班（开班由收银员或药师办理）；按 Ctrl+B 进入后台"))
                return
            if self.state.auto_open_float_fen is not None:
                self.state.update(shift=await self.client.open_shift(self.state.auto_open_float_fen))
            else:
                self.app.push_screen(OpenShiftScreen(self.state), self._shift_opened)
                return
        except ServiceUnavailable:
            self._say("无法连接收银服务，请稍后重试")
            return
        self._to_sale()

    def _shift_opened(self, shift: dict[str, Any] | None) -> None:
        if shift is None:
            self._say("未开班，不能收款", error=True)
            self.query_one("#pin", Input).focus()
            return
        self.state.update(shift=shift)
        self._to_sale()

    def _to_sale(self) -> None:
        self.post_message(self.Ready(self.state.shift_note()))
