"""Item search popup: pinyin initials, full pinyin, name or code; arrows choose, Enter adds it to the sale.

A row tells one box from another of the same name: the maker, Rx/OTC, the 医保 mark, and the stock that can be
sold today (the service's figure: expired and stopped batches left out)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Static

from pos import keymap
from pos.client import TillCallFailed
from pos.format import yuan
from pos.state import TillState


class SearchScreen(ModalScreen[int | None]):
    KEYS = keymap.SEARCH
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState, query: str = "") -> None:
        super().__init__()
        self.client = state.client
        self.initial = query
        self.hits: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search"):
            yield Label("商品查询（拼音首字母 / 全拼 / 品名 / 编码），↑↓ 选择，回车加入", classes="dialog-title")
            yield Input(value=self.initial, id="query", max_length=50)
            yield DataTable(id="hits", cursor_type="row", zebra_stripes=True)
            yield Static("", id="search-message", classes="message", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#hits", DataTable)
        table.add_columns("品名", "规格", "厂家", "类别", "医保", "单价", "可售", "编码")
        table.can_focus = False
        self.query_one("#query", Input).focus()
        if self.initial:
            self.run_worker(self._search(self.initial), exclusive=True)

    @on(Input.Changed, "#query")
    def _changed(self, event: Input.Changed) -> None:
        self.run_worker(self._search(event.value), exclusive=True)

    async def _search(self, q: str) -> None:
        message = self.query_one("#search-message", Static)
        q = q.strip()
        hits: list[dict[str, Any]] = []
        if q:
            try:
                hits = await self.client.search(q)
            except TillCallFailed as exc:
                message.update(exc.text_zh)
                return
        self.hits = hits
        table = self.query_one("#hits", DataTable)
        table.clear()
        for hit in hits:
            item = hit["item"]
            stock = f"{item['stock']}{item['split_unit'] or item['unit']}"
            table.add_row(item["name"], item["spec"], item["manufacturer"] or "—", item["gsp_class_label"],
                          item["insurance_label"] or "—", yuan(item["price_fen"]), stock, item["code"],
                          key=str(item["id"]))
        message.update(f"找到 {len(hits)} 个商品" if q else "")

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#hits", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    @on(Input.Submitted, "#query")
    def _choose(self) -> None:
        if not self.hits:
            self.query_one("#search-message", Static).update("没有找到商品，请换个关键字")
            return
        row = self.query_one("#hits", DataTable).cursor_row
        self.dismiss(int(self.hits[min(row, len(self.hits) - 1)]["item"]["id"]))
