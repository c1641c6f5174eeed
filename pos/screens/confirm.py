"""A yes/no question before something that cannot be taken back at a keystroke (F10 removing a line): Enter
confirms, Esc keeps things as they were. The question names what it acts on."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from pos import keymap


class ConfirmScreen(ModalScreen[bool]):
    KEYS = keymap.CONFIRM
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Label(self.question, classes="dialog-title", id="question", markup=False)
            yield Label("回车确认，Esc 取消")
        yield Footer(compact=True, show_command_palette=False)

    def action_confirm(self) -> None:
        self.dismiss(True)
