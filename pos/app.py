"""DingdianTill: the pharmacy's till, a Textual client of the service (`dingdian pos`).

It shows the service's state and sends the cashier's intents; it never computes a price, a split or a
verdict. Screens: login → (open shift) → sale, with modal popups for payment, search, suspended sales,
void, quantity, help and closing the shift (F12: the counted cash → the Z report).
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from pos.client import TillClient
from pos.screens.login import LoginScreen
from pos.widgets.status import StatusBar

PING_SECONDS = 3.0


class DingdianTill(App[None]):
    CSS_PATH = "till.tcss"
    TITLE = "丁点药房收银"
    ENABLE_COMMAND_PALETTE = False  # ctrl+p would be one more thing a cashier can stumble into

    def __init__(self, settings: Any, client: TillClient | None = None, auto_open_float_fen: int | None = None):
        super().__init__()
        self.settings = settings
        self.till_code: str = settings.till.code
        self.store_name: str = settings.store.name
        self.client = client or TillClient.for_settings(settings)
        self.client.on_connection = self._connection_changed
        # Tests (and a till configured to) open the shift with this float instead of asking.
        self.auto_open_float_fen = auto_open_float_fen
        self.user_name = "未登录"
        self.shift: dict[str, Any] | None = None

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())
        self.set_interval(PING_SECONDS, self._ping)
        self.run_worker(self._ping_once(), group="ping")

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def _ping(self) -> None:
        self.run_worker(self._ping_once(), group="ping", exclusive=True)

    async def _ping_once(self) -> None:
        await self.client.health()  # the client reports the connection state through _connection_changed

    def _connection_changed(self, connected: bool) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.sync()
