"""Returns (退货): find a past sale by its receipt number (typed, or the receipt's barcode scanned), pick the
lines and quantities to take back, choose quarantine or sellable stock where the store's policy leaves it to
the pharmacist, give a reason, confirm. The service decides everything — who may (SEC-01: a pharmacist or
the manager), how much is left, where the stock goes, the refund by the original tender — and the screen
shows its answer. A return is retried with the same id until the service answers, like a completion.

Steps, each undone by Esc: receipt number → lines → reason → (sent) → the refund shown.

A sale the card paid (医保) comes back only whole, through the cancellation of its settlement with the centre
(2103, CARD-04): its lines are all picked and stay so, the reason is asked at once, and the service refunds the
card's part to the fund and the account, the rest as it was paid. On a later day it needs a second person, who
confirms in the same dialog as an authorisation; a cashier's till has the return itself authorised first.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Digits, Footer, Input, Label, Static

from pos import keymap
from pos.client import ServiceError, TillCallFailed
from pos.format import halfwidth, local_hhmm, yuan
from pos.screens.authorise import AuthoriseScreen
from pos.screens.help import HelpScreen
from pos.screens.shift import TENDER_LABELS
from pos.state import TillState
from pos.widgets.status import StatusBar

RETURN = "sale.return"


class ReturnScreen(Screen[dict[str, Any] | None]):
    KEYS = keymap.RETURN
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    def __init__(self, state: TillState, sale_no: str = "") -> None:
        super().__init__()
        self.state = state
        self.client = state.client
        self.initial = sale_no
        self.found: dict[str, Any] | None = None  # the service's ReturnableSaleOut
        self.picked: dict[int, int] = {}  # sale line id → quantity to return
        self.to_quarantine = True  # where the pharmacist's choice is asked, the careful answer first
        self.busy = False
        self.done: dict[str, Any] | None = None  # the service's ReturnOut
        # An authorisation in place for the sale found (a cashier's till): the grant, and who gave it.
        self.grant: str | None = None
        self.grant_sale = ""
        self.authoriser = ""

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        with Horizontal(id="return-head"):
            yield Label("退货  小票号", id="receipt-label")
            yield Input(value=self.initial, placeholder="扫描小票条码或输入小票号，回车", id="receipt", max_length=20)
        yield Static("", id="return-sale", markup=False)
        yield DataTable(id="return-lines", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="return-bottom"):
            with Vertical(id="return-entry"):
                yield Static("扫描小票条码或输入小票号，回车查找原销售", id="return-message", classes="message",
                             markup=False)
                yield Input(placeholder="退货原因（必填），回车提交", id="reason", max_length=200)
            with Vertical(id="refund-box"):
                yield Label("退款 (元)", id="refund-label")
                yield Digits("", id="refund")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#return-lines", DataTable)
        table.add_columns("#", "品名", "规格", "售出", "可退", "退货", "单价", "去向")
        self.query_one("#reason", Input).disabled = True
        self.query_one("#receipt", Input).focus()
        if not self.state.may(RETURN):  # said at once: who may, and when they will be asked
            who = self.state.who_may(RETURN)
            self.say(f"退货须由{who}授权：找到原销售后请{who}输入工号和 PIN；扫描小票条码或输入小票号，回车")
        if self.initial:
            self.run_worker(self._find(self.initial), exclusive=True, group="find")

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#return-message", Static)
        message.update(text)
        message.set_class(error, "error")

    # --- step 1: the receipt --------------------------------------------------------------------

    def take_scan(self, code: str) -> None:
        """A receipt scanned with the serial scanner while this screen is up."""
        if self.busy or self.done is not None:
            return
        self.query_one("#receipt", Input).value = code
        self.run_worker(self._find(code), exclusive=True, group="find")

    @on(Input.Submitted, "#receipt")
    def _receipt(self, event: Input.Submitted) -> None:
        if self.done is not None:  # the refund is shown: Enter goes back to the till
            self.dismiss(self.done)
        elif not self.busy:
            self.run_worker(self._find(event.value), exclusive=True, group="find")

    async def _find(self, sale_no: str) -> None:
        sale_no = halfwidth(sale_no)
        if not sale_no:
            self.say("请输入小票号，例如 20261122-0001", error=True)
            return
        self.say(f"正在查找 {sale_no}…")
        try:
            found = await self.client.returnable(sale_no)
        except TillCallFailed as exc:
            self.say(exc.text_zh, error=True)  # the number stays in the input, to correct
            self.query_one("#receipt", Input).focus()
            return
        self.found, self.picked = found, {}
        self._draw()
        sale = found["sale"]
        if sale["status"] != "completed":
            self.say(f"小票 {sale_no} 的销售未完成，不能退货", error=True)
            return
        if not any(ln["returnable_qty"] for ln in found["lines"]):
            self.say(f"小票 {sale_no} 的商品已全部退货", error=True)
            return
        if self.state.may(RETURN) or (self.grant is not None and self.grant_sale == sale["id"]):
            self._to_lines()
            return
        who = self.state.who_may(RETURN)  # before any line is picked: who may, asked here and now
        self.app.push_screen(AuthoriseScreen(self.state, f"退货（小票 {sale['sale_no']}）：须由{who}授权", RETURN,
                                             sale["id"], note=f"当前岗位不能办理退货；请{who}在此输入本人工号和 PIN"),
                             lambda out: self._authorised(sale, out))

    def _authorised(self, sale: dict[str, Any], out: dict[str, Any] | None) -> None:
        if out is None:
            self.query_one("#receipt", Input).focus()
            self.say(f"退货须由{self.state.who_may(RETURN)}授权：未授权，不能选择退货商品。回车重新授权", error=True)
            return
        self.grant, self.grant_sale, self.authoriser = out["grant"], sale["id"], out["user"]["display_name"]
        self._to_lines()

    @property
    def card_paid(self) -> bool:
        """The sale found was paid (in part) by the 医保 card: it comes back whole, by 2103 (CARD-04)."""
        return self.found is not None and any(t["kind"] == "insurance" for t in self.found["sale"]["tenders"])

    def _to_lines(self) -> None:
        self.query_one("#return-lines", DataTable).focus()
        by = f"{self.authoriser} 已授权退货；" if self.grant else ""
        if self.card_paid:
            self.picked = {i: ln["returnable_qty"] for i, ln in self._returnable().items() if ln["returnable_qty"]}
            self._draw()
            reason = self.query_one("#reason", Input)
            reason.disabled = False
            reason.focus()
            self.say(by + "医保结算的销售：整单撤销医保结算（2103）后退货，医保支付部分退回统筹基金和个人账户，"
                     "不退现金。F5 去向；填写原因后回车")
            return
        self.say(by + "↑↓ 选择商品，+/- 改退货数量，空格 整行，F5 去向，F2 或回车 确认")

    # --- step 2: lines and quantities -------------------------------------------------------------

    def _returnable(self) -> dict[int, dict[str, Any]]:
        return {ln["sale_line_id"]: ln for ln in self.found["lines"]} if self.found else {}

    def _place(self, line_id: int) -> str:
        if self._returnable()[line_id]["quarantine_required"]:
            return "隔离区(制度)"
        return "隔离区" if self.to_quarantine else "可售库存"

    def _draw(self) -> None:
        table = self.query_one("#return-lines", DataTable)
        row = table.cursor_row
        table.clear()
        if self.found is None:
            self.query_one("#return-sale", Static).update("")
            return
        sale, left = self.found["sale"], self._returnable()
        paid = "；".join(f"{TENDER_LABELS.get(t['kind'], t['kind'])} {yuan(t['amount_fen'])}" for t in sale["tenders"])
        when = local_hhmm(sale["completed_at"], self.state.tz) if sale.get("completed_at") else ""
        self.query_one("#return-sale", Static).update(
            f"小票 {sale['sale_no']}  {sale.get('business_date') or ''} {when}  合计 {yuan(sale['total_fen'])} 元"
            f"  支付：{paid or '—'}")
        for ln in sale["lines"]:
            back = self.picked.get(ln["id"], 0)
            table.add_row(str(ln["line_no"]), ln["name"], ln["spec"], f"{ln['qty']}{ln['unit']}",
                          str(left[ln["id"]]["returnable_qty"]), str(back) if back else "",
                          yuan(ln["unit_price_fen"]), self._place(ln["id"]) if back else "", key=str(ln["id"]))
        if sale["lines"]:
            table.move_cursor(row=min(max(row, 0), len(sale["lines"]) - 1))

    def _line(self) -> dict[str, Any] | None:
        if self.found is None or not self.found["sale"]["lines"] or self.busy or self.done is not None:
            return None
        if not self.query_one("#return-lines", DataTable).has_focus:
            return None
        lines = self.found["sale"]["lines"]
        return lines[min(self.query_one("#return-lines", DataTable).cursor_row, len(lines) - 1)]

    def _set(self, line: dict[str, Any], qty: int) -> None:
        if self.card_paid:
            self.say("医保结算的销售只能整单退货（撤销医保结算）", error=True)
            return
        left = self._returnable()[line["id"]]["returnable_qty"]
        if qty > left:
            self.say(f"{line['name']} 最多可退 {left}", error=True)
            return
        if qty <= 0:
            self.picked.pop(line["id"], None)
        else:
            self.picked[line["id"]] = qty
        self._draw()
        count = sum(self.picked.values())
        self.say(f"已选退货 {count} 件" if count else "未选择退货商品")

    def action_more(self) -> None:
        if (line := self._line()) is not None:
            self._set(line, self.picked.get(line["id"], 0) + 1)

    def action_less(self) -> None:
        if (line := self._line()) is not None:
            self._set(line, self.picked.get(line["id"], 0) - 1)

    def action_whole(self) -> None:
        if (line := self._line()) is not None:
            left = self._returnable()[line["id"]]["returnable_qty"]
            self._set(line, 0 if self.picked.get(line["id"]) else left)

    def action_toggle_place(self) -> None:
        if self.found is None or self.busy or self.done is not None:
            return
        self.to_quarantine = not self.to_quarantine
        self._draw()
        forced = all(self._returnable()[i]["quarantine_required"] for i in self.picked) if self.picked else False
        note = "；所选商品按本店制度一律进入隔离区 (GSP-06)" if forced else ""
        self.say(f"可选去向：{'隔离区（待验收）' if self.to_quarantine else '可售库存'}{note}")

    # --- step 3: the reason, then the service -----------------------------------------------------

    @on(DataTable.RowSelected, "#return-lines")
    def _enter_on_lines(self) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        if self.busy or self.done is not None or self.found is None:
            return
        if not self.picked:
            self.say("请先用 + 或空格选择要退的商品", error=True)
            self.query_one("#return-lines", DataTable).focus()
            return
        reason = self.query_one("#reason", Input)
        reason.disabled = False
        if not reason.value.strip():
            reason.focus()
            self.say("请填写退货原因，回车提交")
            return
        self._submit()

    @on(Input.Submitted, "#reason")
    def _reason(self) -> None:
        if not self.query_one("#reason", Input).value.strip():
            self.say("退货必须填写原因", error=True)
            return
        self._submit()

    def _submit(self) -> None:
        if self.busy or self.found is None:
            return
        sale = self.found["sale"]
        if not self.state.may(RETURN) and (self.grant is None or self.grant_sale != sale["id"]):
            # the authorisation expired, or was spent by an earlier return of this receipt: asked again, the
            # picks and the reason kept
            who = self.state.who_may(RETURN)

            def given(out: dict[str, Any] | None) -> None:
                if out is None:
                    self.say(f"退货须由{who}授权：未授权，未退货", error=True)
                    return
                self.grant, self.grant_sale, self.authoriser = out["grant"], sale["id"], out["user"]["display_name"]
                self._submit()
            self.app.push_screen(AuthoriseScreen(self.state, f"退货（小票 {sale['sale_no']}）：须由{who}授权", RETURN,
                                                 sale["id"], note=f"请{who}在此输入本人工号和 PIN"), given)
            return
        self.busy = True
        lines = [{"sale_line_id": i, "qty": q} for i, q in self.picked.items()]
        reason = self.query_one("#reason", Input).value.strip()
        self.run_worker(self._send(str(uuid.uuid4()), self.found["sale"], lines, reason), exclusive=True, group="send")

    async def _send(self, return_id: str, sale: dict[str, Any], lines: list[dict[str, int]], reason: str,
                    second: str | None = None) -> None:
        def retrying(attempt: int) -> None:
            self.say(f"连接中断，正在重试确认退货（第 {attempt} 次）… 请勿重复退款", error=True)

        self.say("正在退货…")
        try:
            if self.card_paid:  # whole, by 2103 (CARD-04)
                done = await self.client.card_cancel(sale["id"], return_id, reason, self.to_quarantine,
                                                     on_retry=retrying, grant=self.grant, second=second)
            else:
                done = await self.client.create_return(return_id, sale["id"], lines, reason, self.to_quarantine,
                                                       on_retry=retrying, grant=self.grant, second=second)
        except ServiceError as exc:
            self.busy = False
            self.say(exc.text_zh, error=True)
            self.query_one("#return-lines", DataTable).focus()  # the picks and the reason are kept
            if exc.code in ("SEC-01", "CARD-04") and exc.details.get("missing") and not second:
                # a later day, or above the store's amount: a second person, in the same dialog; the same
                # return id again (the refusal wrote nothing)
                def given(who: dict[str, Any] | None) -> None:
                    if who is None:
                        self.say("未复核，未退货", error=True)
                        return
                    self.busy = True
                    self.run_worker(self._send(return_id, sale, lines, reason, who["grant"]), exclusive=True,
                                    group="send")
                self.app.push_screen(AuthoriseScreen(self.state, f"退货 {sale['sale_no']}：须另一位有权人员复核", RETURN,
                                                     sale["id"], second=True,
                                                     note=f"{exc.message_zh}；请复核人（店长或另一位药师）输入工号和 PIN"),
                                     given)
            elif exc.details.get("grant") == "refused":  # expired or used: asked again at the next Enter
                self.grant = None
            return
        self.busy = False
        self.grant = None  # spent
        self.done = done
        refunds = "；".join(f"{TENDER_LABELS.get(r['kind'], r['kind'])} {yuan(r['amount_fen'])}"
                           + (f"（{r['reference']}）" if r["reference"] else "") for r in done["refunds"])
        cash = sum(r["amount_fen"] for r in done["refunds"] if r["kind"] == "cash")
        place = "隔离区（待验收）" if done["to_quarantine"] else "可售库存"
        self.query_one("#refund", Digits).update(yuan(done["total_fen"]))
        self.say(f"退货完成 退款：{refunds}。" + (f"请退还现金 {yuan(cash)} 元。" if cash else "")
                 + f"商品进入{place}。回车或 Esc 返回收银")
        self.query_one("#reason", Input).disabled = True
        self.query_one("#receipt", Input).focus()
        # Redraw what is left to return now, from the service.
        try:
            self.found = await self.client.returnable(sale["sale_no"])
            self.picked = {}
            self._draw()
        except TillCallFailed:
            pass

    # --- keys -------------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS))

    def action_back(self) -> None:
        """Esc: one step back — reason → lines → receipt number → the sale screen."""
        if self.busy:
            self.say("正在退货，请等待服务确认，不要重复退款", error=True)
            return
        if self.done is not None:
            self.dismiss(self.done)
            return
        reason = self.query_one("#reason", Input)
        table = self.query_one("#return-lines", DataTable)
        if reason.has_focus:
            reason.disabled = True
            table.focus()
            self.say("↑↓ 选择商品，+/- 改退货数量，空格 整行，F5 去向，F2 或回车 确认")
        elif table.has_focus:
            self.query_one("#receipt", Input).focus()
            self.say("扫描小票条码或输入小票号，回车查找原销售")
        else:
            self.dismiss(None)
