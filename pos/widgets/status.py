"""The status bar: store, till, user, the pharmacist on duty, the devices, the insurance centre, the uploads'
backlog, the service.

One line when it fits, two on a narrow terminal (80 columns): who and where on the first, the links on the
second. Device and link states are the service's (`state` events: {name, ok, text}); the till only shows them.
医保 is the logged-in operator's sign-in of today (9001, GET /insurance/status): settling needs it. 上传 is what the
centre has not accepted yet (GET /uploads, ST-06): how many, rejected or failed, the oldest's age.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from pos.state import TillState

DEVICES = (("card_reader", "读卡器"), ("scanner", "扫码枪"), ("printer", "打印机"))
SEP = " │ "


def _state(label: str, state: dict[str, Any] | None) -> Text:
    if state is None:
        return Text(f"{label}?", style="dim")  # not reported (yet): never shown as working
    if state.get("ok"):
        return Text(f"{label}✓", style="green")
    problem = str(state.get("text") or "故障").removeprefix(label)  # "打印机缺纸" → 打印机✕缺纸
    return Text(f"{label}✕{problem}", style="bold red")


def _insurance(signed_in: bool | None) -> Text:
    if signed_in is None:
        return Text("医保?", style="dim")
    if signed_in:
        return Text("医保✓已签到", style="green")
    return Text("医保✕未签到", style="bold red")


def _uploads(backlog: dict[str, Any] | None) -> Text:
    """The uploads' backlog (ST-06): nothing before it is known, ✓ when the centre has everything."""
    if backlog is None:
        return Text("")
    if not backlog["count"]:
        return Text("上传✓ ", style="green")
    words = f"上传待{backlog['count']}"
    if backlog["rejected"] or backlog["failed"]:
        words += f"·拒{backlog['rejected']}" if backlog["rejected"] else ""
        words += f"·败{backlog['failed']}" if backlog["failed"] else ""
    words += f" {backlog['age_hours']:.0f}h "
    late = backlog["overdue"] or backlog["rejected"] or backlog["failed"]
    return Text(words, style="bold red" if late else "yellow")


class StatusBar(Static):
    """Redrawn from the till's state whenever it changes (it subscribes while mounted)."""

    stamp = reactive(0)  # bumped by sync(): the state is the till's, the bar redraws from it

    def __init__(self, state: TillState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state
        self._unsubscribe: Callable[[], None] | None = None

    def on_mount(self) -> None:
        self._unsubscribe = self.state.subscribe(self.sync)
        self.sync()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def sync(self) -> None:
        # A layout of the whole screen only when the bar's height changes (one line or two): a login, the duty,
        # the devices change its words many times a shift, the sale's lines not once.
        lines = self.get_content_height(self.size, self.size, self.size.width or 80)
        self.stamp += 1
        self.refresh(layout=lines != self.size.height)

    def parts(self) -> tuple[Text, Text]:
        state = self.state
        if state.office:  # the back office in a browser: no till, no duty, no devices, no 医保 sign-in of its own
            return (Text.assemble(f" {state.store_name}", SEP, "后台（浏览器）", SEP, state.user_name, SEP),
                    self._service(Text(" ").append_text(_uploads(state.uploads))))
        duty = state.on_duty
        who = Text.assemble(f" {state.store_name}", SEP, f"收款机 {state.till_code}", SEP, state.user_name, SEP)
        if duty is None:
            who.append("药师 —", style="dim")
        elif duty:
            who.append("在岗药师 " + "、".join(duty))
        else:
            who.append("无在岗药师", style="bold yellow")
        links = Text(" ")
        for name, label in DEVICES:
            links.append_text(_state(label, state.device_states.get(name)))
            links.append(" ")
        links.append_text(_insurance(state.insurance_signed_in))
        links.append(" ")
        links.append_text(_uploads(state.uploads))
        return who, self._service(links)

    def _service(self, links: Text) -> Text:
        connected = self.state.connected
        if connected is None:
            links.append("… 正在连接服务", style="bold")
        elif connected:
            links.append("服务✓", style="green")
        else:
            links.append("✕ 服务未连接，正在重试…", style="bold red")
        return links

    def _fits(self, width: int) -> bool:
        who, links = self.parts()
        return cell_len(who.plain) + cell_len(links.plain) + 1 <= width

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return 1 if self._fits(width) else 2

    def render(self) -> Text:
        who, links = self.parts()
        width = self.size.width or 80
        if self._fits(width):
            gap = width - cell_len(who.plain) - cell_len(links.plain)
            return Text.assemble(who, " " * gap, links)
        return Text.assemble(who, "\n", links)
