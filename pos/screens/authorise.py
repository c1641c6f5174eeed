"""The one dialog where another person types their username and PIN at this till (SEC-01), without taking it over.

Two uses, one widget:
- **authorisation in place** (`action` given): the holder of a post that may do what the logged-in post may not —
  a pharmacist reviewing a prescription, voiding, taking a return back, going on or off duty — authorises that one
  action on that one thing. The service checks the PIN (a wrong one counts towards the lockout), the account, the
  person (not the one logged in) and the post, and answers with a grant for that one request; the dialog is
  dismissed with the service's answer (`grant`, `user`). A refusal is shown here, in the service's words.
- **the second person** (`second`): above the store's amount, or on a later day, a void, a return or a card
  reversal is checked by another person; the service checks their PIN (the lockout) and account and answers with a
  grant the request carries (X-Second) — their PIN never travels in the request; the request's rule judges them.
Esc closes it, nothing done.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from pos import keymap
from pos.client import ServiceError, TillCallFailed
from pos.format import halfwidth
from pos.state import TillState
from pos.widgets.footer import TillFooter


class AuthoriseScreen(ModalScreen[dict[str, Any] | None]):
    KEYS = keymap.AUTHORISE
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState, title: str, action: str, subject: str = "", note: str = "",
                 second: bool = False) -> None:
        super().__init__()
        self.state = state
        self.title_text = title
        self.action = action
        self.subject = subject
        self.note = note
        self.second = second
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="authorise"):
            yield Label(self.title_text, classes="dialog-title", id="authorise-title")
            yield Static(self.note, id="authorise-note", markup=False)
            who = "复核人" if self.second else "授权人"
            yield Input(placeholder=f"{who}工号", id="auth-user", max_length=30)
            yield Input(placeholder=f"{who}密码 (PIN)", id="auth-pin", password=True, max_length=64)
            yield Static("", id="authorise-message", classes="message error", markup=False)
        yield TillFooter()

    def on_mount(self) -> None:
        self.query_one("#auth-user", Input).focus()

    def say(self, text: str) -> None:
        self.query_one("#authorise-message", Static).update(text)

    @on(Input.Submitted, "#auth-user")
    def _to_pin(self) -> None:
        if self.query_one("#auth-user", Input).value.strip():
            self.query_one("#auth-pin", Input).focus()
        else:
            self.say("请输入授权人工号")

    @on(Input.Submitted, "#auth-pin")
    def _submit(self) -> None:
        username = halfwidth(self.query_one("#auth-user", Input).value.strip())
        pin = halfwidth(self.query_one("#auth-pin", Input).value)
        if not username:
            self.query_one("#auth-user", Input).focus()
            self.say("请输入授权人工号")
            return
        if not self.busy:
            self.busy = True
            self.run_worker(self._authorise(username, pin), exclusive=True, group="authorise")

    async def _authorise(self, username: str, pin: str) -> None:
        self.say("正在核对…")
        try:
            out = await self.state.client.authorise(username, pin, self.action, self.subject, self.second)
        except ServiceError as exc:
            self.busy = False
            pin_box = self.query_one("#auth-pin", Input)
            pin_box.value = ""
            # A wrong PIN: type it again; anyone else (same person, no post, frozen): another person's name.
            (pin_box if exc.code == "AUTH" else self.query_one("#auth-user", Input)).focus()
            self.say(exc.text_zh)
            return
        except TillCallFailed as exc:
            self.busy = False
            self.say(exc.text_zh)
            return
        self.dismiss(out)

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss(None)
