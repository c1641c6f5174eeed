"""Voiding the current sale (作废): a reason is required; the service checks who may, and above the store's
amount asks for a second person (SEC-01), who types their username and PIN here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from pos import keymap


@dataclass(frozen=True, slots=True)
class VoidRequest:
    reason: str
    confirm_username: str = ""  # the second person, above the store's amount
    confirm_pin: str = ""


class VoidScreen(ModalScreen[VoidRequest | None]):
    KEYS = keymap.VOID
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("作废当前销售：请输入原因，回车确认", classes="dialog-title")
            yield Input(placeholder="作废原因", id="reason", max_length=200)
            yield Input(placeholder="复核人用户名（超过限额时，Tab 切换）", id="confirm-user", max_length=30)
            yield Input(placeholder="复核人 PIN", id="confirm-pin", password=True, max_length=12)
            yield Static("", id="void-message", classes="message error", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted)
    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#void-message", Static).update("作废必须填写原因")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(VoidRequest(reason, self.query_one("#confirm-user", Input).value.strip(),
                                 self.query_one("#confirm-pin", Input).value))
