"""The till's state in one object, made by the app and given to every screen.

What the till knows beside the sale on screen: who is logged in, the shift, the pharmacists on duty, the devices'
and the links' states, the operator's 医保 sign-in, the card in the reader, the sale to take up again after a new
login — and the client every call goes through. Screens read it and change it here; nothing is kept on the App.

Whoever shows it (the status bar) subscribes and is called after every change: `update()` sets fields and tells
the subscribers once, if anything changed. The service is the truth: the `check_*` calls read its answer into here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import tzinfo
from typing import Any

from pos.client import Json, ServiceError, ServiceUnavailable, TillClient

LOGGED_OUT = "未登录"
Listener = Callable[[], None]


@dataclass(eq=False)
class TillState:
    client: TillClient
    store_name: str
    till_code: str
    tz: tzinfo  # the store's time zone: times from the service are shown in it
    auto_open_float_fen: int | None = None  # open the shift with this float instead of asking (tests, a till so set)
    export_dir: str = "exports"  # where the back office saves a report's file (`[till] export_dir`)
    # The back office alone (`dingdian office`: in the office PC's browser): no till, no shift, no sale, no devices;
    # the login leads to the back office's menu, and only a post with something there gets in.
    office: bool = False
    user_name: str = LOGGED_OUT
    shift: Json | None = None  # the open shift (ShiftOut); None: closed, or not known before the login
    on_duty: list[str] | None = None  # the pharmacists on duty; None: not known yet
    device_states: dict[str, Json] = field(default_factory=dict)  # name → the service's {ok, text, …}
    insurance_signed_in: bool | None = None  # the operator's 9001 of today; None: not known
    card_in_reader: Json | None = None  # the masked record of the card last inserted in the till's reader
    resume_sale_id: str | None = None  # the open sale to take up again after a new login
    uploads: Json | None = None  # the uploads' backlog (GET /uploads, summed: pos.state.backlog); None: not known
    _listeners: list[Listener] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def for_settings(cls, settings: Any, client: TillClient, auto_open_float_fen: int | None = None,
                     office: bool = False) -> TillState:
        return cls(client=client, store_name=settings.store.name, till_code=settings.till.code, tz=settings.store.tz,
                   auto_open_float_fen=auto_open_float_fen, export_dir=settings.till.export_dir, office=office)

    @property
    def connected(self) -> bool | None:
        """The link to the service as the client last saw it (None: not known yet)."""
        return self.client.connected

    # --- who shows it -----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after every change; returns the call that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def changed(self) -> None:
        """Tell the subscribers (also when the client's link state changed: it is read from the client)."""
        for listener in list(self._listeners):
            listener()

    def update(self, **changes: Any) -> None:
        """Set the fields named; the subscribers hear of it once, if a value is new."""
        known = {f.name for f in fields(self) if f.init}
        if unknown := set(changes) - known:
            raise AttributeError(f"TillState has no {', '.join(sorted(unknown))}")
        new = {name: value for name, value in changes.items() if getattr(self, name) != value}
        for name, value in new.items():
            setattr(self, name, value)
        if new:
            self.changed()

    def device_state(self, name: str, state: Json) -> None:
        self.device_states[name] = state
        self.changed()

    # --- the session ------------------------------------------------------------------------------

    def logged_in(self, user_name: str) -> None:
        self.update(user_name=user_name, insurance_signed_in=None)

    def logged_out(self) -> None:
        self.update(user_name=LOGGED_OUT, insurance_signed_in=None, uploads=None)

    def shift_note(self) -> str:
        """The shift is the till's: a cashier logging in where another opened it goes on in it, and is told so
        (the cash counted at F12 is the drawer's, whoever sold into it)."""
        shift, me = self.shift or {}, self.client.user or {}
        if not shift or shift.get("opened_by") in (None, me.get("id")):
            return ""
        by = shift.get("opened_by_name") or "他人"
        # Short: after a change of hands it shares the sale's two-line message with the sale kept and the 医保 sign-in
        # (at 120 columns the longer words cut the sign-in off)
        return f"本机班次 #{shift.get('id')} 由 {by} 开班（班次属于收款机，F12 交班）"

    # --- the logged-in post's rights (the service's, from the login: refuse early, name who may) --------------

    def may(self, action: str) -> bool:
        """Whether the logged-in post may do `action` (permissions.Action's value) itself."""
        return action in ((self.client.user or {}).get("actions") or [])

    def who_may(self, action: str) -> str:
        """The posts that may, as the till says them ("药师"), for what the logged-in post may not do."""
        return str(((self.client.user or {}).get("in_place") or {}).get(action, "有权人员"))

    # --- what the service says ----------------------------------------------------------------------

    async def check_duty(self) -> None:
        """The pharmacists on duty (GET /till/status); no answer leaves them as they were."""
        try:
            status = await self.client.till_status()
        except (ServiceError, ServiceUnavailable):
            return  # a 401 has sent the till to the login already; no answer is shown by the connection state
        self.update(on_duty=status["on_duty"])

    async def check_insurance(self) -> None:
        """The operator's 医保 sign-in of today (9001), for the status bar and the card flow."""
        try:
            status = await self.client.insurance_status()
        except (ServiceError, ServiceUnavailable):
            return
        self.update(insurance_signed_in=bool(status["signed_in"]))

    async def check_uploads(self) -> None:
        """The uploads' backlog (3501–3507 not yet accepted by the centre, ST-06) for the status bar; a post that may
        not read it (or no answer) leaves it as it was."""
        if not self.may("insurance.read"):
            return
        try:
            status = await self.client.call("GET", "/uploads")
        except (ServiceError, ServiceUnavailable):
            return
        self.update(uploads=backlog(status))

    async def sign_in_insurance(self) -> Json:
        """9001 for the logged-in operator; the status bar follows."""
        out = await self.client.insurance_sign_in()
        await self.check_insurance()
        return out


def backlog(status: Json) -> Json:
    """GET /uploads summed for the status bar: rows not accepted, of which rejected, failed rows, the oldest's
    age in hours, and whether any transaction is older than the store allows (ST-06)."""
    rows = status.get("backlog") or []
    return {"count": sum(int(b.get("count", 0)) for b in rows), "rejected": sum(int(b.get("rejected", 0)) for b in rows),
            "failed": len(status.get("failed") or []),
            "age_hours": max((float(b.get("age_hours", 0)) for b in rows), default=0.0),
            "overdue": bool(status.get("overdue"))}
