"""The till at 80×24 (#18), as a cashier who does not look up uses it: keys posted with no pause across an Enter or
an F-key that opens a dialog reach the field that has the focus next — never the field being left; the messages
wrap to their lines, nothing cut, nothing outside the screen or under the footer; the footer names Ctrl+S 换人.
One till, one service, for all of it (a till test's service costs seconds to start)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from pos.format import wrapped_lines
from pos.screens.authorise import AuthoriseScreen
from pos.screens.login import LoginScreen
from server.config import Settings
from tests.conftest import BARCODE_AMOX, ROLE_PINS
from tests.pos.helpers import popup, ready_to_scan, scan, settled, till, until

SIZE = (80, 24)
FLOOR = SIZE[1] - 1  # the footer's row


def burst(app: Any, *keys: str) -> None:
    """Keys as a fast typist's terminal delivers them: all queued at once, nothing waited for in between. A
    one-character string is a character; a longer one a key name (enter, f8)."""
    for k in keys:
        if len(k) == 1:
            app.post_message(events.Key(k if k.isalnum() else _character_to_key(k), k))
        else:
            app.post_message(events.Key(k, "\r" if k == "enter" else None))


def unreadable(widget: Any) -> str:
    """Why the widget's text is not fully readable ("" when it is): its lines at its width must fit its box, and
    the box must lie inside the screen, above the footer."""
    text, box = str(widget.render()), widget.content_region
    if not text.strip():
        return "empty"
    if box.x < 0 or box.right > SIZE[0] or box.bottom > FLOOR:
        return f"outside the screen: {box}"
    if wrapped_lines(text, box.width) > box.height:
        return f"cut: {wrapped_lines(text, box.width)} lines in a box of {box.height}: {text}"
    return ""


def test_typing_ahead_and_reading_every_message_at_80_by_24(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            # the PIN typed right behind the username's Enter goes into the PIN field, not the username's
            login: LoginScreen = await popup(pilot, LoginScreen)
            burst(app, *"u_cashier", "enter", *ROLE_PINS["cashier"], "enter")
            await until(pilot, lambda: ready_to_scan(app) or "错误" in str(login.query_one("#login-message").render()),
                        what="the sale screen (the PIN in its field) or the login's refusal")
            assert ready_to_scan(app), login.query_one("#login-message").render()
            sale: Any = app.screen
            message = sale.query_one("#message", Static)
            # an Rx line: what it needs is said before the money, whole
            await scan(pilot, BARCODE_AMOX)
            await settled(pilot, sale)
            assert unreadable(message) == ""
            long = ("该商品为处方药：须登记处方并由在岗药师审核后方可收款（按 F4 登记处方，药师可在本机输入工号和 PIN "
                    "当场审核）；请继续扫码或按 F4")
            sale.say(long, error=True)  # longer than the entry box's two lines: the box grows
            await pilot.pause()
            assert wrapped_lines(long, message.content_region.width) > 2 and unreadable(message) == ""
            assert sale.query_one("#scan").region.bottom <= FLOOR
            lines = sale.query_one("#lines")  # the sale's lines keep the rest: the header and the line shown
            assert lines.region.height >= 8 and lines.region.y <= 3, lines.region
            sale.say("请扫码")  # a short one again: two lines, the table gets the rest back
            await pilot.pause()
            assert message.content_region.height == 2 and lines.region.height >= 10, lines.region
            # the footer: Ctrl+S 换人 shown whole, every key inside the screen
            keys = list(sale.query(FooterKey))
            assert any(k.key == "ctrl+s" and k.description == "换人" for k in keys)
            assert all(k.region.right <= SIZE[0] for k in keys if k.display), [(k.key, k.region) for k in keys]
            # F8 at a cashier's till opens the authorisation: the name and PIN typed behind it land there
            burst(app, "f8", *"u_pharmacist", "enter", *ROLE_PINS["pharmacist"])
            dialog: AuthoriseScreen = await popup(pilot, AuthoriseScreen)
            await until(pilot, lambda: dialog.query_one("#auth-pin", Input).value == ROLE_PINS["pharmacist"],
                        what="the PIN in its field")
            assert dialog.query_one("#auth-user", Input).value == "u_pharmacist"
            assert sale.query_one("#scan", Input).value == ""  # nothing typed into the field left behind
            for part in ("#authorise-title", "#authorise-note"):
                assert unreadable(dialog.query_one(part)) == "", part
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            assert unreadable(message) == ""  # "未授权…" said whole

    asyncio.run(body())
