"""Voiding the current sale (作废): a reason is required; the service checks who may, and above the store's
amount asks for a second person (SEC-01), who types their username and PIN in the authorisation dialog (the
request then carries their grant, never their PIN)."""

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


class VoidScreen(ModalScreen[VoidRequest | None]):
    """The reason only: who may void was settled before it opens (the post, or an authorisation in place), and a
    second person, when the service asks for one, is asked in the authorisation dialog (pos/screens/authorise.py)."""

    KEYS = keymap.VOID
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, authorised: str = "") -> None:
        super().__init__()
        self.authorised = authorised  # "张药师 已授权", when someone authorised the void in place

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("作废当前销售：请输入原因，回车确认" + (f"（{self.authorised}）" if self.authorised else ""),
                        classes="dialog-title")
            yield Input(placeholder="作废原因", id="reason", max_length=200)
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
        self.dismiss(VoidRequest(reason))
