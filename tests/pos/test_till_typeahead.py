"""Typing ahead across a change of focus (#18), as a cashier who does not look up does it: keys posted with no
pause across an Enter or an F-key that opens a dialog reach the field that has the focus next — never the field
being left — and the sale screen's footer names Ctrl+S 换人 at 80 columns."""

from __future__ import annotations

import asyncio
from typing import Any

from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from pos.screens.authorise import AuthoriseScreen
from pos.screens.login import LoginScreen
from server.config import Settings
from tests.conftest import ROLE_PINS
from tests.pos.helpers import BARCODE_BULK, popup, ready_to_scan, scan, settled, till, until


def burst(app: Any, *keys: str) -> None:
    """Keys as a fast typist's terminal delivers them: all queued at once, nothing waited for in between. A
    one-character string is a character; a longer one a key name (enter, f8)."""
    for k in keys:
        if len(k) == 1:
            app.post_message(events.Key(k if k.isalnum() else _character_to_key(k), k))
        else:
            app.post_message(events.Key(k, "\r" if k == "enter" else None))


def test_a_pin_typed_right_behind_the_username_goes_into_the_pin_field(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=(80, 24)) as pilot:
            login: LoginScreen = await popup(pilot, LoginScreen)
            burst(app, *"u_cashier", "enter", *ROLE_PINS["cashier"], "enter")
            await until(pilot, lambda: ready_to_scan(app) or "错误" in str(login.query_one("#login-message").render()),
                        what="the sale screen (the PIN in its field) or the login's refusal")
            assert ready_to_scan(app), login.query_one("#login-message").render()  # the PIN went to the PIN field
            sale = app.screen
            # F8 at a cashier's till opens the authorisation dialog: the name typed behind it lands there
            await scan(pilot, BARCODE_BULK)
            await settled(pilot, sale)  # type: ignore[arg-type]
            burst(app, "f8", *"u_pharmacist", "enter", *ROLE_PINS["pharmacist"])
            dialog: AuthoriseScreen = await popup(pilot, AuthoriseScreen)
            await until(pilot, lambda: dialog.query_one("#auth-pin", Input).value == ROLE_PINS["pharmacist"],
                        what="the PIN in its field")
            assert dialog.query_one("#auth-user", Input).value == "u_pharmacist"
            assert sale.query_one("#scan", Input).value == ""  # nothing typed into the field left behind
            # the footer at 80 columns: Ctrl+S 换人 shown whole, every key inside the screen
            keys = list(sale.query(FooterKey))
            assert any(k.key == "ctrl+s" and k.description == "换人" for k in keys)
            assert all(k.region.right <= 80 for k in keys if k.display), [(k.key, k.region) for k in keys]

    asyncio.run(body())
