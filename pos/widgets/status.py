"""The status bar: store, till, user and whether the service answers."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    store = reactive("")
    till = reactive("")
    user = reactive("未登录")
    connected: reactive[bool | None] = reactive(None)

    def on_mount(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Take the values from the app (DingdianTill keeps the session's state)."""
        app: Any = self.app
        self.store = app.store_name
        self.till = app.till_code
        self.user = app.user_name
        self.connected = app.client.connected

    def render(self) -> str:
        if self.connected is None:
            link = "[b]… 正在连接服务[/b]"
        elif self.connected:
            link = "[green]● 服务已连接[/green]"
        else:
            link = "[b red]✕ 服务未连接，正在重试…[/b red]"
        return f" {self.store}  │  收款机 {self.till}  │  {self.user}  │  {link}"
