"""小票 (Ctrl+P, and at once when the service says so): the print jobs a crash of the service cut off, each to be
decided — printed again marked 重打 (F2) or not, it came out whole (F3); a drawer kick is never sent again (the
drawer opens with its key) — and the receipts the till's printer printed, as text (the demo's simulated printer keeps
them: F5 / F6 page through them, F7 prints the one shown again, marked 重打)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, Static

from pos import keymap
from pos.client import ServiceError, TillCallFailed
from pos.state import TillState


class PrintsScreen(ModalScreen[None]):
    KEYS = keymap.PRINTS
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.state = state
        self.uncertain: list[dict[str, Any]] = []
        self.paper: list[dict[str, Any]] = []
        self.shown = 0  # which slip of the paper (0: the newest)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="prints"):
            yield Label("小票与打印", classes="dialog-title")
            yield Static("", id="uncertain-title", markup=False)
            yield DataTable(id="uncertain", cursor_type="row", zebra_stripes=True)
            yield Static("正在读取…", id="prints-message", classes="message", markup=False)
            with VerticalScroll(id="paper-box"):
                yield Static("", id="paper", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#uncertain", DataTable)
        table.add_columns("可能未打印完整（服务中断）", "时间")
        table.focus()
        self.run_worker(self._load(), exclusive=True)

    async def _load(self, message: str | None = None) -> None:
        note = self.query_one("#prints-message", Static)
        try:
            self.uncertain = await self.state.client.uncertain_prints()
        except TillCallFailed as exc:
            note.update(exc.text_zh)
            return
        try:
            self.paper = await self.state.client.printed_paper()
        except ServiceError:  # a real printer keeps no text: its receipts are on paper
            self.paper = []
        table = self.query_one("#uncertain", DataTable)
        table.clear()
        for job in self.uncertain:
            table.add_row(job["what"], str(job["created_at"])[11:19], key=str(job["id"]))
        table.display = bool(self.uncertain)
        self.query_one("#uncertain-title", Static).update(
            f"服务中断时正在打印的 {len(self.uncertain)} 张：请核对是否已完整打出。F2 重打（标记重打），F3 已打好不重打"
            if self.uncertain else "没有待确认的打印任务")
        note.update(message or "")
        self.shown = min(self.shown, max(len(self.paper) - 1, 0))
        self._show_paper()

    def _show_paper(self) -> None:
        paper = self.query_one("#paper", Static)
        if not self.paper:
            paper.update("（本机打印机没有留存的小票文本）")
            return
        slip = self.paper[self.shown]
        mark = "（重打）" if slip["reprint"] else ""
        paper.update(f"第 {self.shown + 1}/{len(self.paper)} 张{mark}  F5 上一张 F6 下一张 F7 重打此票\n\n{slip['text']}")

    def _chosen(self) -> dict[str, Any] | None:
        if not self.uncertain:
            return None
        row = self.query_one("#uncertain", DataTable).cursor_row
        return self.uncertain[min(max(row, 0), len(self.uncertain) - 1)]

    def action_reprint(self) -> None:
        if (job := self._chosen()) is not None:
            self.run_worker(self._resolve(job, True), exclusive=True)

    def action_keep(self) -> None:
        if (job := self._chosen()) is not None:
            self.run_worker(self._resolve(job, False), exclusive=True)

    async def _resolve(self, job: dict[str, Any], reprint: bool) -> None:
        try:
            await self.state.client.resolve_print(job["id"], reprint)
        except TillCallFailed as exc:
            self.query_one("#prints-message", Static).update(exc.text_zh)
            return
        await self._load(f"{job['what']}：{'已重打（标记重打）' if reprint else '已确认，不重打'}")

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#uncertain", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def action_paper(self, step: int) -> None:
        if self.paper:
            self.shown = min(max(self.shown + step, 0), len(self.paper) - 1)
            self._show_paper()

    def action_reprint_shown(self) -> None:
        if self.paper and self.paper[self.shown]["kind"] == "receipt":
            self.run_worker(self._reprint_shown(self.paper[self.shown]["ref"]), exclusive=True)

    async def _reprint_shown(self, sale_id: str) -> None:
        try:
            await self.state.client.reprint_receipt(sale_id)
        except TillCallFailed as exc:
            self.query_one("#prints-message", Static).update(exc.text_zh)
            return
        self.shown = 0
        await self._load("已重打（标记重打）")
