"""Changing a line's quantity; the service reprices the line."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from pos import keymap
from pos.format import halfwidth


class QtyScreen(ModalScreen[int | None]):
    KEYS = keymap.QUANTITY
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, line: dict[str, Any], title: str = "") -> None:
        super().__init__()
        self.line = line
        self.heading = title or f"修改数量：{line['name']} {line['spec']}"
        self.initial = "" if title else str(line["qty"])

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.heading, classes="dialog-title", markup=False)
            yield Input(value=self.initial, id="qty", max_length=5, type="integer")
            yield Static("", id="qty-message", classes="message error", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#qty", Input).focus()

    @on(Input.Submitted, "#qty")
    def _confirm(self, event: Input.Submitted) -> None:
        text = halfwidth(event.value)
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            self.query_one("#qty-message", Static).update("数量须为正整数；删除整行请按 F10")
            return
        self.dismiss(int(text))
