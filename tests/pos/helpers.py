"""Driving the till through its Pilot: wait for screens and answers, read what the screen shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from textual import events
from textual.app import App
from textual.css.query import NoMatches
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from catalog.codes import gtin_check_digit
from pos.app import DingdianTill
from pos.client import TillClient
from pos.screens.payment import PaymentScreen
from pos.screens.sale import SaleScreen
from server.config import Settings
from tests.conftest import ROLE_PINS

BARCODE_BULK = "690999000001" + str(gtin_check_digit("690999000001"))  # an OTC item with stock for the burst
SIZE = (100, 30)
S = TypeVar("S", bound=Screen[Any])


def till(settings: Settings, base: str, **kwargs: Any) -> DingdianTill:
    return DingdianTill(settings, client=TillClient(base, **kwargs), auto_open_float_fen=0)


async def until(pilot: Pilot[Any], ready: Callable[[], object], timeout: float = 15, what: str = "") -> None:
    """Let the app run until `ready()` is truthy (a flag, a list of hits, a dict filled in)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or ready}")
        await pilot.pause(0.02)


def till_of(pilot: Pilot[Any]) -> DingdianTill:
    """The till a Pilot drives (Pilot knows its app only as an App)."""
    app = pilot.app
    assert isinstance(app, DingdianTill)
    return app


def current(app: App[Any], kind: type[S]) -> S:
    """The screen up now, which the test expects to be a `kind`."""
    screen = app.screen
    assert isinstance(screen, kind), f"{type(screen).__name__} is up, not {kind.__name__}"
    return screen


def basket(sale: SaleScreen) -> dict[str, Any]:
    """The sale the sale screen holds (its id, lines, totals); a test reading it expects one open."""
    assert sale.sale is not None, "no sale on the screen"
    return sale.sale


def open_shift(app: DingdianTill) -> dict[str, Any]:
    """The till's open shift, as the service answered it at the login."""
    assert app.state.shift is not None, "no open shift"
    return app.state.shift


def ready_to_scan(app: App[Any]) -> bool:
    """The sale screen is up and its input has the focus (a scan typed earlier would go nowhere)."""
    if not isinstance(app.screen, SaleScreen):
        return False
    try:
        return app.screen.query_one("#scan", Input).has_focus
    except NoMatches:  # switched to, not composed yet
        return False


async def popup(pilot: Pilot[Any], kind: type[S]) -> S:
    """Wait for a screen to be up with its focus set: keys pressed before that would go nowhere."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, kind) and app.focused is not None
                and app.focused.screen is app.screen, what=kind.__name__)
    screen = app.screen
    assert isinstance(screen, kind)
    return screen


async def type_text(pilot: Pilot[Any], chars: str, *then: str) -> None:
    """Type into the focused input as a terminal would deliver it, then press `then` (Enter, an F-key …).

    Pilot.press waits for the app to go idle after every key (~50 ms); the characters of one input need
    no such wait — they are handled in order — so they are posted at once and the wait is paid once.
    """
    for ch in chars:
        pilot.app.post_message(events.Key(ch if ch.isalnum() else _character_to_key(ch), ch))
    await pilot.pause()
    if then:
        await pilot.press(*then)


async def scan(pilot: Pilot[Any], code: str) -> None:
    """A keyboard-wedge scan: the code and Enter, in one burst."""
    await type_text(pilot, code, "enter")


async def log_in(pilot: Pilot[Any], post: str = "cashier") -> SaleScreen:
    await type_text(pilot, f"u_{post}", "enter")
    await type_text(pilot, ROLE_PINS[post], "enter")
    await until(pilot, lambda: ready_to_scan(pilot.app), what="the sale screen")
    screen = pilot.app.screen
    assert isinstance(screen, SaleScreen)
    return screen


async def settled(pilot: Pilot[Any], screen: SaleScreen) -> None:
    await until(pilot, lambda: screen.pending == 0, what="the scans to be answered")
    await pilot.pause()


def message(screen: Widget, selector: str = "#message") -> str:
    return str(screen.query_one(selector, Static).render())


def status(app: App[Any]) -> str:
    return str(app.screen.query_one("#status").render())


def sales(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id, status, total_fen, change_fen, sale_no FROM sale")).all())


async def pay_cash(pilot: Pilot[Any], sale: SaleScreen, tendered: str) -> dict[str, Any]:
    await pilot.press("f2")
    pay = await popup(pilot, PaymentScreen)
    await type_text(pilot, tendered, "enter")
    await until(pilot, lambda: pay.done is not None, what="the completion")
    done = pay.done
    assert done is not None
    await pilot.press("enter")  # next customer
    await until(pilot, lambda: pilot.app.screen is sale, what="back to the sale")
    return done
