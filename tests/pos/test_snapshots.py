"""Snapshots of the till's main screens at 80×24 (pytest-textual-snapshot): login, sale, search, payment.

The data is the fixed test shop and nothing on these screens shows a clock, so a change in a snapshot is a
change in the layout or the text. After a deliberate change: `pytest tests/pos/test_snapshots.py
--snapshot-update`, then look at the SVGs (the failure report shows old and new side by side).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pos.screens.payment import PaymentScreen
from pos.screens.search import SearchScreen
from server.config import Settings
from tests.conftest import BARCODE_MASK, BARCODE_VITC
from tests.pos.helpers import log_in, popup, scan, settled, till, till_of, type_text, until

pytestmark = pytest.mark.slow
SnapCompare = Callable[..., bool]


async def steady(pilot: Pilot[Any]) -> None:
    """A blinking cursor is caught on or off by the clock (a loaded machine shifts it): held on for the picture."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def connected(pilot: Pilot[Any]) -> None:
    await until(pilot, lambda: till_of(pilot).client.connected is True, what="the service")
    await steady(pilot)


async def sale_with_two_lines(pilot: Pilot[Any]) -> None:
    await connected(pilot)
    sale = await log_in(pilot)
    await scan(pilot, BARCODE_VITC)
    await scan(pilot, BARCODE_MASK)
    await scan(pilot, BARCODE_MASK)
    await settled(pilot, sale)
    await steady(pilot)


def test_login_screen(snap_compare: SnapCompare, service: str, settings: Settings) -> None:
    assert snap_compare(till(settings, service), terminal_size=(80, 24), run_before=connected)


def test_sale_screen(snap_compare: SnapCompare, service: str, settings: Settings) -> None:
    assert snap_compare(till(settings, service), terminal_size=(80, 24), run_before=sale_with_two_lines)


def test_search_popup(snap_compare: SnapCompare, service: str, settings: Settings) -> None:
    async def searched(pilot: Pilot[Any]) -> None:
        await sale_with_two_lines(pilot)
        await type_text(pilot, "wss", "enter")
        search = await popup(pilot, SearchScreen)
        await until(pilot, lambda: bool(search.hits), what="the hits")
        await steady(pilot)

    assert snap_compare(till(settings, service), terminal_size=(80, 24), run_before=searched)


def test_payment_popup(snap_compare: SnapCompare, service: str, settings: Settings) -> None:
    async def paying(pilot: Pilot[Any]) -> None:
        await sale_with_two_lines(pilot)
        await pilot.press("f2")
        await popup(pilot, PaymentScreen)
        await type_text(pilot, "50")
        await steady(pilot)

    assert snap_compare(till(settings, service), terminal_size=(80, 24), run_before=paying)
