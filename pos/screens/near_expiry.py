"""近效期 (后台 F11): the pull list (GSP-06) — every batch on hand that has expired or expires within the store's
`near_expiry_days` (config, read by the service), earliest first, per zone or all zones. A zone's code typed narrows
it (a code the store does not have is refused, never an empty list that reads as "nothing to pull"). F6 on an expired
batch opens its 过期报损 with the batch and its quantity offered (for a post that may write stock off)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import BindingType
from textual.widgets import Input

from pos import keymap
from pos.screens.losses import LossScreen
from pos.screens.office import OfficeScreen

LOCATION_ZH = {"sellable": "可售", "quarantine": "待验"}


class NearExpiryScreen(OfficeScreen):
    KEYS = keymap.NEAR_EXPIRY
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()
    TITLE_ZH = "近效期下架清单"
    COLUMNS = ("#", "库区", "品名", "批次号", "批号", "库位", "数量", "有效期", "剩余")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.zone: str | None = None
        self.pull: list[Any] = []

    def on_mount(self) -> None:
        self.ask("库区编码回车只看该区（空回车：全部库区）")

    def on_screen_resume(self) -> None:
        self.action_reload()  # shown, and shown again after a write-off

    def action_reload(self) -> None:
        self.work(self._load(self.zone))

    @on(Input.Submitted, "#office-input")
    def _entered(self, _: Input.Submitted) -> None:
        self.work(self._load(self.typed().strip() or None))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "write_off":
            return self.state.may("stock.loss") and 0 <= self.row < len(self.pull) and self.pull[self.row]["expired"]
        return True

    def action_cursor(self, step: int) -> None:
        super().action_cursor(step)
        self.keys_follow(self.row)  # F6 follows the row: offered on an expired batch

    def action_write_off(self) -> None:
        """The expired batch under the cursor written off (过期报损), its batch and quantity offered."""
        if 0 <= self.row < len(self.pull) and self.pull[self.row]["expired"]:
            self.app.push_screen(LossScreen(self.state, expired=self.pull[self.row]))

    async def _load(self, zone: str | None) -> None:
        self.pull = await self.calls.near_expiry(zone)
        self.zone = zone
        self.rows([(n, r["zone"] or "", r["item_name"], r["batch_no"], r["lot_no"],
                    LOCATION_ZH.get(r["location"], r["location"]), r["qty"], r["expires_on"],
                    "已过期" if r["expired"] else f"{r['days_left']}天")
                   for n, r in enumerate(self.pull, 1)], keep=False)
        expired = sum(1 for r in self.pull if r["expired"])
        self.title_says(f"近效期下架清单  {zone or '全部库区'}  {len(self.pull)} 批（已过期 {expired}）")
        self.keys_follow(self.row, len(self.pull))
        self.say("已过期的批次请下架，选中按 F6 过期报损" if expired else
                 ("没有近效期批次" if not self.pull else "近效期批次请下架或优先销售"))
        self.ask("库区编码回车只看该区（空回车：全部库区）")
