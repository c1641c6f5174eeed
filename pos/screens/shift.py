"""The shift: opening it with the float (备用金) counted into the drawer, in 元; closing it with the cash
counted (交班结账) and showing the service's Z report."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from pos import keymap
from pos.client import ServiceError, ServiceUnavailable, TillCallFailed
from pos.format import parse_yuan, yuan
from pos.state import TillState


class OpenShiftScreen(ModalScreen[dict[str, Any] | None]):
    KEYS = keymap.OPEN_SHIFT
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.client = state.client

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("本收款机尚未开班，请输入备用金（元）开班", classes="dialog-title")
            yield Input(placeholder="0.00", id="float", max_length=10)
            yield Static("", id="shift-message", classes="message error", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#float", Input).focus()

    @on(Input.Submitted, "#float")
    def _open(self, event: Input.Submitted) -> None:
        self.run_worker(self._open_shift(event.value), exclusive=True)

    async def _open_shift(self, text: str) -> None:
        fen = parse_yuan(text or "0")
        message = self.query_one("#shift-message", Static)
        if fen is None:
            message.update("请输入金额，例如 200 或 200.00")
            return
        try:
            shift = await self.client.open_shift(fen)
        except TillCallFailed as exc:
            message.update(exc.text_zh)
            return
        self.dismiss(shift)


TENDER_LABELS = {"cash": "现金", "other": "其他支付", "insurance": "医保"}


def z_report_text(rep: dict[str, Any]) -> str:
    """The service's Z report in Chinese, one fact a line (Rich markup: the variance is highlighted)."""
    def tenders(by: dict[str, int]) -> str:
        return "；".join(f"{TENDER_LABELS.get(k, k)} {yuan(v)}" for k, v in sorted(by.items())) or "无"

    variance = rep.get("variance_fen")
    if variance is None:
        variance_line = "差额：—"
    elif variance == 0:
        variance_line = "差额：0.00 元（账实相符）"
    else:
        kind = "长款" if variance > 0 else "短款"
        variance_line = f"[b reverse red]差额：{yuan(variance)} 元（{kind}）[/]"
    counted = rep.get("counted_cash_fen")
    names = "、".join(escape(str(p.get("name") or "")) for p in rep.get("pharmacists") or []) or "无"
    return "\n".join([
        f"班次 #{rep['shift_id']}  收款机 {escape(str(rep['till_code']))}  营业日 {rep['business_date']}",
        f"销售笔数：{rep['sales_count']}    销售金额：{yuan(rep['sales_fen'])} 元",
        f"按支付方式：{tenders(rep.get('by_tender') or {})}",
        f"作废：{rep['voids_count']} 笔  {yuan(rep['voids_fen'])} 元",
        f"退货：{rep['returns_count']} 笔  {yuan(rep['returns_fen'])} 元  退款：{tenders(rep.get('refunds_by_tender') or {})}",
        f"备用金：{yuan(rep['float_fen'])} 元",
        f"应有现金：{yuan(rep['cash_expected_fen'])} 元",
        f"实点现金：{yuan(counted) if counted is not None else '—'} 元",
        variance_line,
        f"在岗药师：{names}",
    ])


class CloseShiftScreen(ModalScreen[dict[str, Any] | None]):
    """交班结账: type the cash counted in the drawer (元), Enter closes the shift and shows the Z report.

    Dismissed with the report once closed (Enter or Esc), or None if the cashier backs out before closing."""

    KEYS = keymap.CLOSE_SHIFT
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState, shift: dict[str, Any]) -> None:
        super().__init__()
        self.client = state.client
        self.shift = shift
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="close-shift"):
            yield Label(f"交班结账  班次 #{self.shift.get('id', '?')}  营业日 {self.shift.get('business_date', '')}"
                        "  请输入实点现金（元），回车结班", classes="dialog-title", markup=False)
            yield Input(placeholder="0.00", id="counted", max_length=10)
            yield Static("", id="close-message", classes="message error", markup=False)
            yield Static("", id="zreport")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#counted", Input).focus()

    def action_leave(self) -> None:
        self.dismiss(self.report)

    @on(Input.Submitted, "#counted")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.report is not None:  # closed already: Enter goes back to the till
            self.dismiss(self.report)
            return
        self.run_worker(self._close(event.value), exclusive=True)

    async def _close(self, text: str) -> None:
        message = self.query_one("#close-message", Static)
        fen = parse_yuan(text)
        if fen is None:
            message.update("请输入实点现金金额，例如 350 或 350.00")
            return
        message.update("正在结班…")
        try:
            report = await self.client.close_shift(self.shift["id"], fen)
        except ServiceError as exc:
            hint = "（Esc 返回）" if exc.code == "SHIFT-OPEN-SALES" else ""
            message.update(f"[{exc.code}] {exc.message_zh}{hint}")
            return
        except ServiceUnavailable:
            message.update("无法连接收银服务，请稍后重试（班次未结）")
            return
        self.report = report
        message.update("已结班。回车或 Esc 返回；按 F12 可开新班")
        self.query_one(".dialog-title", Label).update(f"Z 报表  班次 #{report['shift_id']}（已结班）")
        self.query_one("#counted", Input).value = ""
        self.query_one("#zreport", Static).update(z_report_text(report))
