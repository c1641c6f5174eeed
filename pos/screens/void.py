"""Voiding the current sale (作废): a reason is required; the service checks who may."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from pos import keymap


class VoidScreen(ModalScreen[str | None]):
    KEYS = keymap.VOID
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("作废当前销售：请输入原因，回车确认", classes="dialog-title")
            yield Input(placeholder="作废原因", id="reason", max_length=200)
            yield Static("", id="void-message", classes="message error", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _confirm(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#void-message", Static).update("作废必须填写原因")
            return
        self.dismiss(event.value.strip())
