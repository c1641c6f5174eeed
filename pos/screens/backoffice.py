"""后台 (Ctrl+B at the sale screen): the back office's menu, showing only what the logged-in post may do — the
service's rights from the login (TillState.may), so a key the service would refuse is not offered.

OfficeMenuScreen is the same menu as the first screen after the login when the back office is served alone to the
office PC's browser (`dingdian office`): there is no sale under it, so an entry opens over it and Esc logs out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from pos import keymap
from pos.screens.checklist import ChecklistScreen
from pos.screens.count import CountScreen
from pos.screens.help import HelpScreen
from pos.screens.losses import LossScreen
from pos.screens.month_end import MonthEndScreen
from pos.screens.near_expiry import NearExpiryScreen
from pos.screens.recall import RecallScreen
from pos.screens.receiving import ReceivingScreen
from pos.screens.supplier_return import SupplierReturnScreen
from pos.screens.transfer import TransferScreen
from pos.screens.upkeep import UpkeepScreen
from pos.screens.uploads import UploadsScreen
from pos.state import TillState
from pos.widgets.footer import TillFooter
from pos.widgets.status import StatusBar


@dataclass(frozen=True)
class Entry:
    key: str
    label: str
    needs: tuple[str, ...]  # any one of these actions (server.permissions.Action values) opens it
    make: Callable[[TillState], Screen[None]]


ENTRIES = {
    "receiving": Entry("F2", "收货验收", ("receipt.write", "receipt.inspect", "batch.write"), ReceivingScreen),
    "count": Entry("F3", "盘点", ("stock.count", "batch.write"), CountScreen),
    "month_end": Entry("F4", "月结报表", ("report.read",), MonthEndScreen),
    # The backlog itself is in every post's status bar; the rows, the retry and the reconciliation are the 医保
    # administrator's and the person in charge's (uploads.write, recon.read).
    "uploads": Entry("F5", "上传与对账", ("uploads.write", "recon.read"), UploadsScreen),
    "supplier_return": Entry("F6", "购进退出", ("batch.write",), SupplierReturnScreen),
    "transfer": Entry("F7", "调拨", ("stock.transfer", "receipt.inspect"), TransferScreen),
    # stock care (#19): each post that does it; the near-expiry pull list for whoever cares for the stock
    "losses": Entry("F8", "报损销毁", ("stock.loss",), LossScreen),
    "recall": Entry("F9", "召回", ("batch.stop",), RecallScreen),
    "upkeep": Entry("F10", "养护检查", ("stock.upkeep", "batch.stop"), UpkeepScreen),
    "near_expiry": Entry("F11", "近效期", ("stock.upkeep", "stock.loss", "batch.write"), NearExpiryScreen),
    # The compliance checklist (#22) is the store manager's (and the 医保 administrator's): GET /checklist is theirs.
    "checklist": Entry("F12", "合规检查", ("report.read",), ChecklistScreen),
}


def allowed(state: TillState) -> list[str]:
    """The entries the logged-in post may open, in the menu's order."""
    return [name for name, e in ENTRIES.items() if any(state.may(a) for a in e.needs)]


class BackOfficeScreen(ModalScreen[None]):
    KEYS = keymap.BACK_OFFICE
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        names = allowed(self.state)
        with Vertical(classes="dialog", id="back-office"):
            yield Label(f"后台  {self.state.user_name}", classes="dialog-title", markup=False)
            yield Static("\n".join(f"{ENTRIES[n].key}  {ENTRIES[n].label}" for n in names)
                         or "本岗位没有可用的后台功能", id="back-office-entries", markup=False)
        yield TillFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return bool(parameters) and parameters[0] in allowed(self.state)
        return True

    def action_open(self, name: str) -> None:
        if name in allowed(self.state):
            self.app.switch_screen(ENTRIES[name].make(self.state))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS))


class OfficeMenuScreen(BackOfficeScreen):
    """The back office alone (TillState.office): the menu the login leads to; Esc logs out (there is no till)."""

    KEYS = keymap.OFFICE_MENU
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        yield from super().compose()

    def action_open(self, name: str) -> None:
        if name in allowed(self.state):
            self.app.push_screen(ENTRIES[name].make(self.state))

    def action_log_out(self) -> None:
        self.post_message(self.LogOut())

    class LogOut(Message):
        """The person leaves the back office: their session ends and the login is asked again."""
