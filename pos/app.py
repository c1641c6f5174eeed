"""DingdianTill: the pharmacy's till, a Textual client of the service (`dingdian pos`).

It shows the service's state and sends the cashier's intents; it never computes a price, a split or a
verdict. Screens: login → (open shift) → sale, with modal popups for payment, search, suspended sales,
void, quantity, help and closing the shift (F12: the counted cash → the Z report), and the returns screen
(F11, or a scanned receipt), F3 the card (医保结算) and F4 the prescription (处方登记与审方), Ctrl+P the
receipts (pos/screens/prints.py: put up at once when a crash of the service cut a print job off), and Ctrl+B the
back office (后台, pos/screens/backoffice.py: receiving, counts, the month end, uploads — for the posts that may).
A post that opens no shift (a manager, a 医保 administrator) logs in to a till without one and goes there.
With `office=True` (`dingdian office` serves it to the office PC's browser) it is the back office alone: the login,
then Ctrl+B's menu (checklist included) for the posts that have something there; no sale, no shift, no devices.

The app routes and runs the till's life: it makes the till's state (pos/state.py) and gives it to every screen,
puts the sale screen up after a login (it keeps that screen, the one it tells when the service is back), and
goes back to the login when the session is lost — keeping the open sale's id, so the sale resumes after the login.

Every UPLOADS_SECONDS a worker asks the uploads' backlog for the status bar (never in a scan's way).

Beside the calls, the till follows its event stream: device and insurance-link states go into the state (the
status bar shows them), a serial scanner's codes go where a typed scan would (pos/codes.py routes them on the sale
screen), a card inserted in the till's reader is offered for the card flow, and the operator's 医保 sign-in is
checked again when the insurance link changes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from textual import events
from textual.app import App

from pos.client import TillCallFailed, TillClient
from pos.codes import shown
from pos.format import halfwidth
from pos.screens.backoffice import OfficeMenuScreen
from pos.screens.login import LoginScreen
from pos.screens.prints import PrintsScreen
from pos.screens.sale import SaleScreen
from pos.state import TillState
from pos.typeahead import TypeAhead

PING_SECONDS = 3.0
# The uploads' backlog for the status bar (GET /uploads): asked in a worker, never in a scan's way, this often.
UPLOADS_SECONDS = 30.0
# After a change of hands the sale comes back first; the event stream, the duty and the print queue are asked
# this much later, so their calls do not queue before the sale's on the service (switch user → sale < 300 ms).
HOUSEKEEPING_DELAY = 0.3


@runtime_checkable
class TakesScans(Protocol):
    """A screen that takes a code from the serial scanner (as if typed into it)."""

    def take_scan(self, code: str) -> None: ...


@runtime_checkable
class TakesCards(Protocol):
    """A screen that is told of a card inserted in (or removed from) the till's reader."""

    def card_event(self, data: dict[str, Any]) -> None: ...


class DingdianTill(App[None]):
    CSS_PATH = "till.tcss"
    TITLE = "丁点药房收银"
    ENABLE_COMMAND_PALETTE = False  # ctrl+p would be one more thing a cashier can stumble into
    # Twelve F-keys fit 80 columns only without the gaps between them (till.tcss: Screen.-narrow). Not a ClassVar:
    # Textual's annotation makes it an instance variable for mypy, so ruff's ClassVar rule is waived here.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (90, "-wide")]  # noqa: RUF012

    def __init__(self, settings: Any, client: TillClient | None = None, auto_open_float_fen: int | None = None,
                 office: bool = False):
        super().__init__()
        client = client or TillClient.for_settings(settings)
        client.on_connection = self._connection_changed
        client.on_unauthorized = self._session_lost
        # Tests (and a till configured to) open the shift with auto_open_float_fen instead of asking. `office`: the
        # back office alone (no sale, no shift, no devices), as `dingdian office` serves it to a browser.
        self.state = TillState.for_settings(settings, client, auto_open_float_fen, office=office)
        if office:
            self.title = "丁点药房后台"
        self.sale_screen: SaleScreen | None = None  # the sale screen of this login, once it is up
        self.typeahead = TypeAhead(self)
        self.uploads_seconds = UPLOADS_SECONDS

    async def on_event(self, event: events.Event) -> None:
        """Keys typed behind one that moves the focus wait for it to land (pos/typeahead.py)."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self.typeahead.holding(event):
                return
            focused = self.focused
            await super().on_event(event)
            self.typeahead.after(event, focused)
            return
        await super().on_event(event)

    @property
    def client(self) -> TillClient:
        return self.state.client

    def on_mount(self) -> None:
        self.push_screen(LoginScreen(self.state))
        self.set_interval(PING_SECONDS, self._ping)
        self.set_interval(self.uploads_seconds, self._check_uploads)
        self.run_worker(self.check_service(), group="ping")

    async def on_unmount(self) -> None:
        self.workers.cancel_group(self, "events")
        if self.state.office and self.client.token is not None:
            # The back office alone ends with its browser tab (textual-serve quits its app): so does the session,
            # rather than live on for the token's hours with nobody at it.
            try:
                await self.client.logout()
            except TillCallFailed:
                pass  # the service away: the token expires there by itself
        await self.client.aclose()

    # --- the session ------------------------------------------------------------------------------

    def on_login_screen_logged_in(self, message: LoginScreen.LoggedIn) -> None:
        """After a login: follow this till's events with the new token."""
        self.state.logged_in(message.user_name)
        if self.state.office:  # no till: no event stream (scanner, reader, printer), no duty to follow
            self.run_worker(self.state.check_uploads(), group="uploads", exclusive=True)
            return
        if isinstance(self.screen, LoginScreen) and self.screen.locked:  # the sale first
            self.set_timer(HOUSEKEEPING_DELAY, self._housekeeping)
            return
        self._housekeeping()

    def _housekeeping(self) -> None:
        if self.client.token is None or not self.screen_stack:  # logged out again, or the till closing meanwhile
            return
        self.run_worker(self._follow_events(), group="events", exclusive=True)
        self.run_worker(self.check_service(), group="ping", exclusive=True)

    def on_login_screen_ready(self, message: LoginScreen.Ready) -> None:
        """Logged in and the shift known (or opened): the sale — after a change of hands, the same sale screen
        with the same open sale, the new person acting from now on. The back office alone: its menu."""
        if self.state.office:
            self.switch_screen(OfficeMenuScreen(self.state))
            return
        if self.sale_screen is not None and isinstance(self.screen, LoginScreen) and self.screen.locked:
            self.sale_screen.hands_changed()  # its calls first: they go out while the screen is popped
            self.pop_screen()
            self.set_timer(HOUSEKEEPING_DELAY, lambda: self.run_worker(self.check_prints(), group="prints",
                                                                       exclusive=True))
            return
        self.sale_screen = SaleScreen(self.state)
        self.switch_screen(self.sale_screen)
        if message.note:
            self.sale_screen.announce(message.note)
        self.run_worker(self.check_prints(), group="prints", exclusive=True)

    def on_office_menu_screen_log_out(self, _: OfficeMenuScreen.LogOut) -> None:
        self.run_worker(self._log_out(), group="lock", exclusive=True)

    async def _log_out(self) -> None:
        """Esc at the back office's menu (alone, in a browser): the session ends at the service, the login again."""
        try:
            await self.client.logout()
        except TillCallFailed:
            pass  # the token is forgotten all the same; the service lets it expire
        self.state.logged_out()
        self.switch_screen(LoginScreen(self.state, notice="已退出登录"))

    def on_sale_screen_lock(self, _: SaleScreen.Lock) -> None:
        self.run_worker(self.lock(), group="lock", exclusive=True)

    async def lock(self) -> None:
        """Ctrl+S: the person at the till leaves it. Their session ends at the service (nothing more is done in
        their name) and the till locks to a login over the sale screen, which keeps the open sale and the shift;
        whoever logs in next (or the same person) finds the sale as it was."""
        if self.sale_screen is None or isinstance(self.screen, LoginScreen):
            return
        who = self.state.user_name
        self.workers.cancel_group(self, "events")
        # What the scanner sent while the till was locked went nowhere: the next person's stream starts afresh
        # (the device states come first on every connect), instead of replaying those scans into their sale.
        self.client.last_event_id = None
        try:
            await self.client.logout()
        except TillCallFailed:
            pass  # the token is forgotten all the same; the service lets it expire
        self.state.logged_out()
        kept = "；未完成的销售和本班次已保留" if self.sale_screen.open_sale_id() else "；本班次继续"
        self.push_screen(LoginScreen(self.state, notice=f"{who} 已离开收款机{kept}。请登录", locked=True))

    # --- printing ---------------------------------------------------------------------------------

    def action_prints(self) -> None:
        """Ctrl+P: the receipts printed (as text, on the demo's printer) and the jobs a crash cut off."""
        if self.sale_screen is not None and not isinstance(self.screen, PrintsScreen):
            self.push_screen(PrintsScreen(self.state))

    async def check_prints(self) -> None:
        """Jobs a crash of the service cut off mid-print are shown to the cashier at once (to reprint, or not)."""
        if self.sale_screen is None or not self.screen_stack or isinstance(self.screen, PrintsScreen):
            return
        try:
            cut_off = await self.client.uncertain_prints()
        except TillCallFailed:
            return
        if cut_off and self.sale_screen is not None and self.screen_stack and not isinstance(self.screen, PrintsScreen):
            self.push_screen(PrintsScreen(self.state))

    def _session_lost(self) -> None:
        """The service refused our token (expired, revoked, account frozen): log in again, keep the sale."""
        self.call_later(self._back_to_login)

    def _back_to_login(self) -> None:
        if isinstance(self.screen, LoginScreen):
            return
        if self.sale_screen is not None:
            self.state.update(resume_sale_id=self.sale_screen.open_sale_id() or self.state.resume_sale_id)
            self.sale_screen = None
        self.workers.cancel_group(self, "events")
        self.state.logged_out()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        notice = "登录已失效，请重新登录" + ("；未完成的销售已保留" if self.state.resume_sale_id else "")
        self.switch_screen(LoginScreen(self.state, notice=notice))

    # --- the service's state ----------------------------------------------------------------------

    def _ping(self) -> None:
        self.run_worker(self.check_service(), group="ping", exclusive=True)

    async def check_service(self) -> None:
        """Connection state (the client reports it through _connection_changed); logged in, the duty too."""
        if self.client.token is None or self.state.office:  # the back office alone follows no duty
            await self.client.health()
            return
        await self.state.check_duty()

    def _check_uploads(self) -> None:
        if self.client.token is not None:
            self.run_worker(self.state.check_uploads(), group="uploads", exclusive=True)

    def _connection_changed(self, connected: bool) -> None:
        self.state.changed()
        if connected and self.sale_screen is not None:
            self.sale_screen.service_back()
            self.run_worker(self.check_prints(), group="prints", exclusive=True)  # a crash may have cut a job off

    # --- the event stream -------------------------------------------------------------------------

    async def _follow_events(self) -> None:
        async for kind, data in self.client.events():
            try:
                self._on_event(kind, data)
            except Exception as exc:  # one odd event must not take the till down with it
                self.log.error(f"event {kind} not handled: {exc!r}")

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "state" and isinstance(data.get("name"), str):
            self.state.device_state(data["name"], data)
            if data["name"] == "printer" and (data.get("detail") or {}).get("uncertain"):
                self.run_worker(self.check_prints(), group="prints", exclusive=True)
            if data["name"] == "insurance":  # someone signed in or out: is it this operator?
                self.run_worker(self.state.check_insurance(), group="insurance", exclusive=True)
        elif kind == "scan" and isinstance(data.get("code"), str):
            self.take_scan(halfwidth(data["code"]))
        elif kind == "card":
            self._card_event(data)
        elif kind == "gap":
            self.notify("与服务的连接中断期间有扫码未能送达，请核对商品行", severity="warning", timeout=8)

    def take_scan(self, code: str) -> None:
        """A code from the serial scanner: where the screen on top takes a typed scan, or refused plainly."""
        if not isinstance(self.screen, TakesScans):
            self.notify(f"扫码 {shown(code)} 未处理：请先关闭当前窗口再扫码", severity="warning")
            return
        self.screen.take_scan(code)

    def _card_event(self, data: dict[str, Any]) -> None:
        """The till's reader: remember the card (masked) and offer it to the screen on top."""
        if data.get("event") == "inserted" and isinstance(data.get("card"), dict):
            self.state.update(card_in_reader=data["card"])
        elif data.get("event") == "removed":
            self.state.update(card_in_reader=None)
        if isinstance(self.screen, TakesCards):
            self.screen.card_event(data)
