"""Opening the shift: the float (备用金) counted into the drawer, in 元."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from pos.client import ServiceError, ServiceUnavailable
from pos.format import parse_yuan


class OpenShiftScreen(ModalScreen[dict | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "返回", key_display="Esc")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("本收款机尚未开班，请输入备用金（元）开班", classes="dialog-title")
            yield Input(placeholder="0.00", id="float", max_length=10)
            yield Static("", id="shift-message", classes="message error", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#float", Input).focus()

    @on(Input.Submitted, "#float")
    def _open(self, event: Input.Submitted) -> None:
        self.run_worker(self._open_shift(event.value), exclusive=True)

    async def _open_shift(self, text: str) -> None:
        fen = parse_yuan(text or "0")
        message = self.query_one("#shift-message", Static)
        if fen is None:
            message.update("请输入金额，例如 200 或 200.00")
            return
        try:
            shift = await self.app.client.open_shift(fen)  # type: ignore[attr-defined]
        except ServiceError as exc:
            message.update(f"[{exc.code}] {exc.message_zh}")
            return
        except ServiceUnavailable:
            message.update("无法连接收银服务，请稍后重试")
            return
        self.dismiss(shift)
