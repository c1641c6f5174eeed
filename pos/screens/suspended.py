"""Suspended sales (挂单): a list; Enter resumes the highlighted one at this till."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, Static

from pos import keymap
from pos.client import TillCallFailed
from pos.format import local_hhmm, yuan
from pos.state import TillState


class SuspendedScreen(ModalScreen[str | None]):
    KEYS = keymap.SUSPENDED
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.state = state
        self.sales: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="suspended"):
            yield Label("挂单列表，↑↓ 选择，回车取单", classes="dialog-title")
            yield DataTable(id="sales", cursor_type="row", zebra_stripes=True)
            yield Static("正在读取…", id="suspended-message", classes="message", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#sales", DataTable)
        table.add_columns("开单时间", "件数", "金额", "商品")
        table.focus()
        self.run_worker(self._load(), exclusive=True)

    async def _load(self) -> None:
        message = self.query_one("#suspended-message", Static)
        try:
            self.sales = await self.state.client.suspended()
        except TillCallFailed as exc:
            message.update(exc.text_zh)
            return
        table = self.query_one("#sales", DataTable)
        for sale in self.sales:
            names = "、".join(ln["name"] for ln in sale["lines"][:3])
            table.add_row(local_hhmm(sale["opened_at"], self.state.tz), str(sum(ln["qty"] for ln in sale["lines"])),
                          yuan(sale["total_fen"]), names, key=sale["id"])
        message.update(f"共 {len(self.sales)} 笔挂单" if self.sales else "没有挂单")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        if self.sales:
            row = self.query_one("#sales", DataTable).cursor_row
            self.dismiss(self.sales[min(row, len(self.sales) - 1)]["id"])
