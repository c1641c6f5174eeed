"""DingdianTill: the pharmacy's till, a Textual client of the service (`dingdian pos`).

It shows the service's state and sends the cashier's intents; it never computes a price, a split or a
verdict. Screens: login → (open shift) → sale, with modal popups for payment, search, suspended sales,
void, quantity, help and closing the shift (F12: the counted cash → the Z report), and the returns screen
(F11, or a scanned receipt). Task screens are reached by key through `task_screens`: F3 the card (医保结算),
F4 the prescription (处方登记与审方).

Beside the calls, the till follows its event stream: device and insurance-link states go to the status bar,
a serial scanner's codes go where a typed scan would (a 医保电子凭证 to the card flow), a card inserted in the
till's reader is offered for the card flow, and the operator's 医保 sign-in is shown. A lost session (401) goes back to the login and keeps
the open sale's id, so the sale resumes after the login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App
from textual.screen import Screen

from pos.client import ServiceError, ServiceUnavailable, TillClient
from pos.codes import shown
from pos.screens.card import CardScreen
from pos.screens.login import LoginScreen
from pos.screens.prescription import PrescriptionScreen
from pos.widgets.status import StatusBar

PING_SECONDS = 3.0


class DingdianTill(App[None]):
    CSS_PATH = "till.tcss"
    TITLE = "丁点药房收银"
    ENABLE_COMMAND_PALETTE = False  # ctrl+p would be one more thing a cashier can stumble into
    # Twelve F-keys fit 80 columns only without the gaps between them (till.tcss: Screen.-narrow).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (90, "-wide")]

    def __init__(self, settings: Any, client: TillClient | None = None, auto_open_float_fen: int | None = None):
        super().__init__()
        self.settings = settings
        self.till_code: str = settings.till.code
        self.store_name: str = settings.store.name
        self.client = client or TillClient.for_settings(settings)
        self.client.on_connection = self._connection_changed
        self.client.on_unauthorized = self._session_lost
        # Tests (and a till configured to) open the shift with this float instead of asking.
        self.auto_open_float_fen = auto_open_float_fen
        self.user_name = "未登录"
        self.shift: dict[str, Any] | None = None
        self.on_duty: list[str] | None = None  # None: not known yet
        self.device_states: dict[str, dict[str, Any]] = {}  # name → the service's {ok, text, …}
        self.resume_sale_id: str | None = None  # the open sale to take up again after a new login
        self.insurance_signed_in: bool | None = None  # the operator's 9001 of today; None: not known
        self.card_in_reader: dict[str, Any] | None = None  # the masked record of the card last inserted
        # A key's task → a factory of its screen, given the open sale (F3 "card", F4 "prescription").
        self.task_screens: dict[str, Callable[..., Screen[Any]]] = {"card": CardScreen,
                                                                    "prescription": PrescriptionScreen}

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())
        self.set_interval(PING_SECONDS, self._ping)
        self.run_worker(self.check_service(), group="ping")

    async def on_unmount(self) -> None:
        self.workers.cancel_group(self, "events")
        await self.client.aclose()

    # --- the session ------------------------------------------------------------------------------

    def signed_in(self, user_name: str) -> None:
        """After a login: follow this till's events with the new token."""
        self.user_name = user_name
        self.insurance_signed_in = None
        self.refresh_status()
        self.run_worker(self._follow_events(), group="events", exclusive=True)
        self.run_worker(self.check_service(), group="ping", exclusive=True)

    def _session_lost(self) -> None:
        """The service refused our token (expired, revoked, account frozen): log in again, keep the sale."""
        self.call_later(self._back_to_login)

    def _back_to_login(self) -> None:
        from pos.screens.sale import SaleScreen

        if isinstance(self.screen, LoginScreen):
            return
        for screen in self.screen_stack:
            if isinstance(screen, SaleScreen):
                self.resume_sale_id = screen.open_sale_id() or self.resume_sale_id
        self.workers.cancel_group(self, "events")
        self.user_name = "未登录"
        self.insurance_signed_in = None
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen(notice="登录已失效，请重新登录" + ("；未完成的销售已保留" if self.resume_sale_id else "")))
        self.refresh_status()

    # --- the service's state ----------------------------------------------------------------------

    def _ping(self) -> None:
        self.run_worker(self.check_service(), group="ping", exclusive=True)

    async def check_service(self) -> None:
        """Connection state (the client reports it through _connection_changed); logged in, the status too."""
        if self.client.token is None:
            await self.client.health()
            return
        try:
            status = await self.client.till_status()
        except (ServiceError, ServiceUnavailable):
            return  # a 401 has sent us to the login already; no answer is shown by the connection state
        if status["on_duty"] != self.on_duty:
            self.on_duty = status["on_duty"]
            self.refresh_status()

    async def check_insurance(self) -> None:
        """The operator's 医保 sign-in of today (9001), for the status bar and the card flow."""
        try:
            status = await self.client.insurance_status()
        except (ServiceError, ServiceUnavailable):
            return
        if status["signed_in"] != self.insurance_signed_in:
            self.insurance_signed_in = bool(status["signed_in"])
            self.refresh_status()

    async def sign_in_insurance(self) -> dict[str, Any]:
        """9001 for the logged-in operator; the status bar follows."""
        out = await self.client.insurance_sign_in()
        await self.check_insurance()
        return out  # type: ignore[no-any-return]

    def _connection_changed(self, connected: bool) -> None:
        from pos.screens.sale import SaleScreen

        self.refresh_status()
        if connected:
            for screen in self.screen_stack:
                if isinstance(screen, SaleScreen):
                    screen.service_back()

    def refresh_status(self) -> None:
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.sync()

    # --- the event stream -------------------------------------------------------------------------

    async def _follow_events(self) -> None:
        async for kind, data in self.client.events():
            try:
                self._on_event(kind, data)
            except Exception as exc:  # one odd event must not take the till down with it
                self.log.error(f"event {kind} not handled: {exc!r}")

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "state" and isinstance(data.get("name"), str):
            self.device_states[data["name"]] = data
            self.refresh_status()
            if data["name"] == "insurance":  # someone signed in or out: is it this operator?
                self.run_worker(self.check_insurance(), group="insurance", exclusive=True)
        elif kind == "scan" and isinstance(data.get("code"), str):
            self.take_scan(data["code"].strip())
        elif kind == "card":
            self._card_event(data)
        elif kind == "gap":
            self.notify("与服务的连接中断期间有扫码未能送达，请核对商品行", severity="warning", timeout=8)

    def take_scan(self, code: str) -> None:
        """A code from the serial scanner: where the screen on top takes a typed scan, or refused plainly."""
        taker = getattr(self.screen, "take_scan", None)
        if taker is None:
            self.notify(f"扫码 {shown(code)} 未处理：请先关闭当前窗口再扫码", severity="warning")
            return
        taker(code)

    def _card_event(self, data: dict[str, Any]) -> None:
        """The till's reader: remember the card (masked) and offer it to the screen on top."""
        if data.get("event") == "inserted" and isinstance(data.get("card"), dict):
            self.card_in_reader = data["card"]
        elif data.get("event") == "removed":
            self.card_in_reader = None
        taker = getattr(self.screen, "card_event", None)
        if taker is not None:
            taker(data)
