"""An 80×24 terminal (#18): the till's messages wrap to their lines, nothing cut, nothing outside the screen or
under the footer — the sale screen's own message, a refusal with its rule, the authorisation dialog's."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Static

from pos.format import wrapped_lines
from pos.screens.authorise import AuthoriseScreen
from server.config import Settings
from tests.conftest import BARCODE_AMOX
from tests.pos.helpers import log_in, popup, scan, settled, till, until

SIZE = (80, 24)


def unreadable(widget: Static, floor: int) -> str:
    """Why the widget's text is not fully readable ("" when it is): its lines at its width must fit its box, and
    the box must lie inside the screen above `floor` (the footer's row)."""
    text, box = str(widget.render()), widget.content_region
    if not text.strip():
        return "empty"
    if box.x < 0 or box.right > SIZE[0] or box.bottom > floor:
        return f"outside the screen: {box}"
    if wrapped_lines(text, box.width) > box.height:
        return f"cut: {wrapped_lines(text, box.width)} lines in a box of {box.height}: {text}"
    return ""


def test_messages_are_readable_whole_at_80_by_24(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            message: Any = sale.query_one("#message", Static)
            await scan(pilot, BARCODE_AMOX)  # an Rx line: the till says what it needs before the money
            await settled(pilot, sale)
            assert unreadable(message, SIZE[1] - 1) == ""
            long = ("该商品为处方药：须登记处方并由在岗药师审核后方可收款（按 F4 登记处方，药师可在本机输入工号和 PIN "
                    "当场审核）；请继续扫码或按 F4")
            sale.say(long, error=True)  # a message longer than two lines of the entry box
            await pilot.pause()
            assert wrapped_lines(long, message.content_region.width) > 2
            assert unreadable(message, SIZE[1] - 1) == ""
            assert sale.query_one("#scan").region.bottom <= SIZE[1] - 1  # the scan field stays above the footer
            sale.say("请扫码")  # a short one again: back to two lines, the table gets them back
            await pilot.pause()
            assert message.content_region.height == 2
            await pilot.press("f8")  # a cashier may not void: the dialog says who may, whole
            dialog = await popup(pilot, AuthoriseScreen)
            await until(pilot, lambda: dialog.query_one("#authorise-note", Static).content_region.width > 0)
            for part in ("#authorise-title", "#authorise-note"):
                assert unreadable(dialog.query_one(part), SIZE[1] - 1) == "", part
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            sale.show_error(Exception())
            assert unreadable(message, SIZE[1] - 1) == ""

    asyncio.run(body())
