"""The sale screen: the lines, a large total, one input for scans and typed codes, and the F-keys.

Every change to the sale goes through one queue consumed by one worker, so intents reach the service in
the order the cashier made them — 100 scans 2 ms apart arrive as 100 adds, in order — and the lines are
shown from each answer (the service's SaleOut is the truth), only the rows that changed redrawn. The cursor
follows the line just added or changed; F7, F10 and Ctrl+L are queued behind the scans, so they act on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Digits, Label, Static

from pos import keymap
from pos.client import ServiceError, ServiceUnavailable
from pos.codes import Scan, codes_needed, route, trace_target
from pos.format import wrapped_lines, yuan
from pos.screens.authorise import AuthoriseScreen
from pos.screens.backoffice import BackOfficeScreen, allowed
from pos.screens.card import CardScreen
from pos.screens.confirm import ConfirmScreen
from pos.screens.help import HelpScreen
from pos.screens.payment import PaymentScreen
from pos.screens.prescription import PrescriptionScreen
from pos.screens.qty import QtyScreen
from pos.screens.returns import ReturnScreen
from pos.screens.search import SearchScreen
from pos.screens.shift import CloseShiftScreen, OpenShiftScreen
from pos.screens.suspended import SuspendedScreen
from pos.screens.void import VoidRequest, VoidScreen
from pos.state import TillState
from pos.widgets.footer import TillFooter
from pos.widgets.sale_lines import SaleLines
from pos.widgets.scan_input import ScanInput
from pos.widgets.status import StatusBar

RETRY_SECONDS = 1.0
Intent = Callable[[], Awaitable[None]]
# The lines' columns: the header and the width in cells (the name takes what the others leave). The input keeps
# the focus; the arrows move the row cursor from there.
_COLUMNS = (("#", 3), ("品名", 0), ("规格", 12), ("数量", 7), ("单价", 8), ("金额", 9), ("类别", 12), ("医保", 4))


def added_words(ln: dict[str, Any], warnings: list[dict[str, Any]] | None = None) -> str:
    """What the cashier is told when a line is added or grows: the line, and at once what it will need before
    the money (the service refuses the payment without it): a prescription reviewed by a pharmacist (F4) for a
    处方药, the 追溯码 of each box of a traced drug (scanned into the same input)."""
    words = [f"已加入：{ln['name']} × {ln['qty']}{ln['unit']}"]
    if ln.get("gsp_class") == "rx":
        words.append("处方药：须登记处方并经在岗药师审核，按 F4")
    if (short := codes_needed(ln) - len(ln.get("trace_codes", []))) > 0:
        words.append(f"需扫追溯码 {short} 个（每盒一个），直接扫入本输入框")
    words += [f"⚠ {w.get('message_zh', '')}" for w in warnings or []]  # the scan's warnings (GSP-06 near expiry)
    return "；".join(words)


# Where the cashier goes to supply what a refusal says is missing (the rule IDs are the service's).
_WHERE = {"RX-01": "按 F4 处方", "RX-04": "按 F4 处方", "RX-10": "药师 Ctrl+G 在岗", "TRACE-MISSING": "扫入追溯码",
          "GSP-06": "F7 改数量或 F10 删行"}


def missing_words(m: dict[str, Any]) -> str:
    """One refusal as the message line lists it: the rule, what it says, and the key that mends it."""
    where = _WHERE.get(m.get("code", ""))
    return f"[{m.get('code')}] {m.get('message_zh', '')}" + (f"（{where}）" if where else "")


def _cells(n: int, ln: dict[str, Any]) -> tuple[str, ...]:
    """A line's cells as the table shows them; `n` its place in the sale (1..n, not the service's line_no)."""
    name = ln["name"]
    if ln.get("traced"):  # how many of its boxes' trace codes are scanned
        name += f" 码{len(ln.get('trace_codes', []))}/{codes_needed(ln)}"
    return (str(n), name, ln["spec"], f"{ln['qty']}{ln['unit']}", yuan(ln["unit_price_fen"]), yuan(ln["amount_fen"]),
            ln["gsp_class_label"], ln["insurance_label"] or "")


class SaleScreen(Screen[None]):
    KEYS = keymap.SALE
    BINDINGS: ClassVar[list[BindingType]] = KEYS.bindings()

    class Lock(Message):
        """Ctrl+S: the person at the till leaves it (the app locks the till over this screen)."""

    AUTO_FOCUS = "#scan"

    def __init__(self, state: TillState) -> None:
        super().__init__()
        self.state = state
        self.client = state.client
        self.sale: dict[str, Any] | None = None
        self.intents: asyncio.Queue[Intent] = asyncio.Queue()
        self._next_sale_id: str | None = None  # kept across retries of the same open
        self._in_flight = 0

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(self.state, id="status")
        yield SaleLines(_COLUMNS, right=(3, 4, 5), id="lines")
        with Horizontal(id="bottom"):
            with Vertical(id="entry"):
                yield Static("请扫码或输入编码/拼音首字母，回车", id="message", classes="message", markup=False)
                yield ScanInput(placeholder="扫码 / 编码 / 拼音   F1 帮助", id="scan", max_length=50)
            with Vertical(id="total-box"):
                yield Label("合计 (元)  共 0 件", id="total-label")
                yield Digits("0.00", id="total")
        yield TillFooter(narrow_hidden={"f1"})  # 80 columns: F2..F12 and Ctrl+S 换人; F1 in the placeholder

    def on_mount(self) -> None:
        self.run_worker(self._post_intents(), group="intents")
        self.send(self._offer_sign_in)  # first: a resumed sale's message is the one left on screen
        if self.state.resume_sale_id is not None:
            self.send(self._resume_after_login)
        self.focus_scan()

    async def _offer_sign_in(self) -> None:
        """After the login: an operator not signed in to the 医保 centre today is offered the sign-in."""
        await self.state.check_insurance()
        if self.state.insurance_signed_in is False:
            self.say("今日尚未医保签到：按 Ctrl+Y 签到（医保结算前须签到）；请扫码", error=True)

    def focus_scan(self) -> None:
        self.query_one("#scan", ScanInput).focus()

    @property
    def pending(self) -> int:
        """Intents not yet answered (the tests wait for 0)."""
        return self.intents.qsize() + self._in_flight

    # --- messages ---------------------------------------------------------------------------------

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        # Two lines, fixed, so a scan's message needs no layout of the screen; a longer one (80 columns, a
        # refusal with its rule) grows the box to its lines, the sale's table giving them up, and nothing is cut.
        lines = max(2, wrapped_lines(text, message.content_size.width))
        grows = message.styles.height is None or lines != message.styles.height.value
        message.update(text, layout=grows)
        if grows:
            message.styles.height = lines
        message.set_class(error, "error")

    def show_error(self, exc: Exception) -> None:
        if isinstance(exc, ServiceError):
            self.say(f"[{exc.code}] {exc.message_zh}", error=True)
        else:
            self.say("无法连接收银服务，正在重试…", error=True)
        self.focus_scan()

    # --- the one worker that talks to the service about this sale ----------------------------------

    async def _post_intents(self) -> None:
        while True:
            intent = await self.intents.get()
            self._in_flight = 1
            try:
                await self._run(intent)
            finally:
                self._in_flight = 0
                self.intents.task_done()

    async def _run(self, intent: Intent) -> None:
        while True:
            try:
                await intent()
                return
            except ServiceUnavailable as exc:
                self.show_error(exc)
                if not exc.not_sent:
                    # It may have reached the service: do not repeat it, show what the service has.
                    await self._refresh()
                    return
                await asyncio.sleep(RETRY_SECONDS)  # never sent: repeating cannot double it
            except ServiceError as exc:
                self.show_error(exc)
                return

    async def _refresh(self) -> None:
        if self.sale is None:
            return
        try:
            self.show_sale(await self.client.get_sale(self.sale["id"]))
        except (ServiceError, ServiceUnavailable):
            pass

    async def _ensure_sale(self) -> str:
        """The sale on the service, opened lazily by the first line (an F-key alone never opens one)."""
        while self.sale is None:
            self._next_sale_id = self._next_sale_id or str(uuid.uuid4())
            self.show_sale(await self.client.open_sale(self._next_sale_id))
            self._next_sale_id = None  # a reused id no longer open (voided meanwhile) → a fresh one next round
        return str(self.sale["id"])

    def _drop_empty_sale(self) -> None:
        """Put aside an open sale without lines (a refused first scan, every line removed): it cannot be
        suspended (SALE-EMPTY), and the till reopens the same id with the next scan (the service makes
        opening an id again a no-op), so no second empty sale is left open to block closing the shift."""
        if self.sale is not None and not self.sale["lines"]:
            self._next_sale_id = str(self.sale["id"])
            self.show_sale(None)

    def send(self, intent: Intent) -> None:
        self.intents.put_nowait(intent)

    def open_sale_id(self) -> str | None:
        """The sale this screen is working on, opened on the service or about to be (kept over a new login)."""
        return str(self.sale["id"]) if self.sale is not None else self._next_sale_id

    async def _resume_after_login(self) -> None:
        sale_id = self.state.resume_sale_id
        if sale_id is None:
            return
        sale = await self.client.get_sale(sale_id)
        self.state.update(resume_sale_id=None)
        if sale["status"] == "open":
            self.show_sale(sale)
            self.say(f"已恢复未完成的销售（{sum(ln['qty'] for ln in sale['lines'])} 件），请继续")
        elif sale["status"] == "suspended":
            self.say("原销售已挂单，可按 F6 取单")
        else:
            self.say(f"原销售已{'完成' if sale['status'] == 'completed' else '作废'}，请开始新的销售")

    def service_back(self) -> None:
        """The service answers again: redraw the open sale from what the service has (the basket lives there)."""
        async def intent() -> None:
            await self._refresh()
            if self.sale is not None:
                self.say("服务已恢复，当前销售已从服务重新读取")
            else:
                self.say("服务已恢复")
        self.send(intent)

    # --- change of hands ------------------------------------------------------------------------------

    def action_lock(self) -> None:
        """Ctrl+S: lock the till for a change of hands, once every scan before it is answered."""
        async def intent() -> None:
            if self.app.screen is self:
                self.post_message(self.Lock())
        self.send(intent)

    def hands_changed(self) -> None:
        """Another person (or the same one) logged in over the locked till: the open sale as the service has it,
        the till's shift (whoever opened it), the new operator's 医保 sign-in — asked side by side — and the new
        person named."""
        async def shift() -> None:
            try:
                self.state.update(shift=await self.client.current_shift())
            except ServiceError as exc:
                if exc.code != "SHIFT-CLOSED":
                    raise
                self.state.update(shift=None)  # closed meanwhile (elsewhere): F12 opens the next

        async def intent() -> None:
            await asyncio.gather(self._refresh(), shift(), self.state.check_insurance())
            words = [f"{self.state.user_name} 已登录"]
            if self.sale is not None:
                words.append(f"继续未完成的销售（{sum(ln['qty'] for ln in self.sale['lines'])} 件）")
            if self.state.shift is None:
                words.append("本班已结班，不能收款。按 F12 开新班")
            elif note := self.state.shift_note():
                words.append(note)
            if self.state.insurance_signed_in is False:
                words.append("今日尚未医保签到：按 Ctrl+Y 签到")
            self.say("；".join(words))
            self.focus_scan()
        self.send(intent)

    def announce(self, text: str) -> None:
        """Say `text` once what is queued before it is done (its message is the one left on screen)."""
        async def intent() -> None:
            self.say(text)
        self.send(intent)

    # --- showing the service's sale ---------------------------------------------------------------

    def show_sale(self, sale: dict[str, Any] | None) -> dict[str, Any] | None:
        """Show the service's sale. Only what changed is redrawn: a scan adds or changes one row, and a whole
        table's redraw after each scan was most of the till's time per scan. The cursor follows the line just
        added or changed (F7 and F10 act on it); the rows are numbered 1..n as they stand (the service's line
        ids are the keys)."""
        before = {ln["id"]: ln for ln in self.sale["lines"]} if self.sale else {}
        self.sale = sale if sale is not None and sale["status"] == "open" else None
        lines = self.sale["lines"] if self.sale else []
        found = self.query("#lines").results(SaleLines)
        table = next(found, None)
        if table is None:  # an answer that came back while the screen was being taken down (the till closing)
            return None
        shown = [str(ln["id"]) for ln in lines]
        keys = table.keys()
        kept = [k for k in keys if k in set(shown)]
        if kept == shown[:len(kept)]:  # rows removed, changed or added at the end: those rows only
            gone = [k for k in keys if k not in set(shown)]
            for k in gone:
                table.remove_row(k)
            for n, ln in enumerate(lines, 1):
                cells = _cells(n, ln)
                key = str(ln["id"])
                if key not in keys:
                    table.add_row(*cells, key=key)
                elif ln != before.get(ln["id"]) or gone:
                    table.update_row(key, *cells)  # redrawn only if a cell changed
        else:  # another sale, or the lines reordered: drawn afresh
            table.clear()
            for n, ln in enumerate(lines, 1):
                table.add_row(*_cells(n, ln), key=str(ln["id"]))
        touched = next((i for i, ln in enumerate(lines) if ln != before.get(ln["id"])), None)
        if lines:
            row = touched if touched is not None else min(max(table.cursor_row, 0), len(lines) - 1)
            if row != table.cursor_row:
                table.move_cursor(row=row)
        count = sum(ln["qty"] for ln in lines)
        self.query_one("#total-label", Label).update(f"合计 (元)  共 {count} 件", layout=False)  # one line, fixed box
        self.query_one("#total", Digits).update(yuan(self.sale["total_fen"]) if self.sale else "0.00")
        return lines[touched] if touched is not None else None

    def selected_line(self) -> dict[str, Any] | None:
        if self.sale is None or not self.sale["lines"]:
            return None
        table = self.query_one("#lines", SaleLines)
        return self.sale["lines"][min(table.cursor_row, len(self.sale["lines"]) - 1)]

    # --- scanning and searching -------------------------------------------------------------------

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        self.take_scan(event.code)

    def take_scan(self, code: str) -> None:
        """A typed code or a scan (keyboard wedge here, serial scanner through the service's events)."""
        match route(code):  # pos/codes.py: what the code is decides where it goes
            case Scan.VOUCHER:  # identify the insured person with it (never shown, never logged)
                self._open_task("card", "F3 医保", voucher=code)
            case Scan.PRESCRIPTION:
                self.download_prescription(code)
            case Scan.RECEIPT:
                self.app.push_screen(ReturnScreen(self.state, code), lambda _: self.focus_scan())
            case Scan.TRACE:
                self.add_trace_code(code)
            case Scan.BARCODE:
                self.add(barcode=code)
            case Scan.SEARCH:
                self.app.push_screen(SearchScreen(self.state, code), self._picked)

    def add(self, *, barcode: str | None = None, item_id: int | None = None) -> None:
        if self.state.shift is None:
            self.say("本班已结班，不能收款。请按 F12 开新班", error=True)
            self.focus_scan()
            return

        async def intent() -> None:
            sale_id = await self._ensure_sale()
            answer = await self.client.add_line(sale_id, barcode=barcode, item_id=item_id)
            line = self.show_sale(answer)
            if line is not None:
                self.say(added_words(line, (answer or {}).get("warnings", [])))
        self.send(intent)

    def add_trace_code(self, code: str) -> None:
        line = trace_target(self.sale, self.selected_line())
        if line is None:
            self.say("没有需要扫追溯码的商品行（追溯码须在扫药品条码之后扫）", error=True)
            self.focus_scan()
            return

        async def intent() -> None:
            assert self.sale is not None
            now = self.show_sale(await self.client.add_trace_code(self.sale["id"], line["id"], code)) or line
            have, need = len(now.get("trace_codes", [])), codes_needed(now)
            more = f"，还需扫 {need - have} 个" if have < need else "，已扫齐"
            self.say(f"已记录追溯码：{now['name']}（{have}/{need}）{more}")
        self.send(intent)

    def _picked(self, item_id: int | None) -> None:
        if item_id is not None:
            self.add(item_id=item_id)
        self.focus_scan()

    # --- actions (F-keys) -------------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc on the sale: clear what is half typed and the message."""
        self.query_one("#scan", ScanInput).value = ""
        self.say("")
        self.focus_scan()

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#lines", SaleLines)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS), lambda _: self.focus_scan())

    def _open_task(self, task: str, title: str, voucher: str | None = None) -> None:
        """F3 the card or F4 the prescription on the open sale, after every scan before it is answered."""
        async def intent() -> None:
            if self.app.screen is not self:  # a popup is open already
                return
            if self.sale is None or not self.sale["lines"]:
                if task == "card" and await self.client.unresolved_settlements():
                    self.app.push_screen(CardScreen(self.state, None), self._task_done)  # only the unresolved ones
                    return
                self.say(f"{title}：当前没有商品，请先扫码", error=True)
                return
            screen = (CardScreen(self.state, self.sale, voucher=voucher) if task == "card"
                      else PrescriptionScreen(self.state, self.sale))
            self.app.push_screen(screen, self._task_done)
        self.send(intent)

    def _task_done(self, result: dict[str, Any] | None) -> None:
        """Back from F3 / F4: a completed sale shows its change; otherwise the sale is read again from the service."""
        if result is not None and result.get("status") == "completed":
            self._paid(result)
            return
        self.focus_scan()

        async def intent() -> None:
            if self.sale is None:
                return
            sale = await self.client.get_sale(self.sale["id"])
            self.show_sale(sale)
            if sale["status"] == "settling":
                self.say("[SETTLE-UNCERTAIN] 该销售医保结算结果待确认：按 F3 处理（冲正确认）前不能继续", error=True)
            elif sale.get("prescription_id"):
                self.say(f"已关联处方 #{sale['prescription_id']}")
        self.send(intent)

    def card_event(self, data: dict[str, Any]) -> None:
        """A card inserted in the till's reader while selling: offer the card flow."""
        if data.get("event") == "inserted":
            card = data.get("card") or {}
            self.say(f"读到社保卡：{card.get('name', '')}（{card.get('card_no', '')}），按 F3 医保结算")

    def action_card(self) -> None:
        self._open_task("card", "F3 医保")

    def action_prescription(self) -> None:
        self._open_task("prescription", "F4 处方")

    def download_prescription(self, code: str) -> None:
        """The patient's electronic prescription code scanned at the sale: F4 opens on this sale (opened now if
        none is: the prescription brings its drugs) and downloads it."""
        if self.state.shift is None:
            self.say("本班已结班，不能收款。请按 F12 开新班", error=True)
            self.focus_scan()
            return

        async def intent() -> None:
            if self.app.screen is not self:  # a popup is open already
                return
            await self._ensure_sale()
            assert self.sale is not None
            self.app.push_screen(PrescriptionScreen(self.state, self.sale, code=code), self._task_done)
        self.send(intent)

    def action_insurance_sign_in(self) -> None:
        """Ctrl+Y: the logged-in operator signs in to the 医保 centre for today (9001)."""
        async def intent() -> None:
            out = await self.state.sign_in_insurance()
            self.say(f"医保签到成功：{out.get('opter_name', '')} 签到号 {out.get('sign_no', '')}")
        self.send(intent)

    def action_back_office(self) -> None:
        """Ctrl+B: the back office (后台), for the posts that have a part in it, after every scan before it."""
        async def intent() -> None:
            if self.app.screen is not self:
                return
            if not allowed(self.state):
                self.say("后台：本岗位无权使用（收货、盘点、月结报表、上传对账由药师、店长或医保管理员办理）", error=True)
                return
            self.app.push_screen(BackOfficeScreen(self.state), lambda _: self.focus_scan())
        self.send(intent)

    def action_returns(self) -> None:
        self.app.push_screen(ReturnScreen(self.state), lambda _: self.focus_scan())

    def action_duty(self) -> None:
        """Ctrl+G: a pharmacist goes on duty in this shift, or off it (RX-10; STAFF-01 decides who) — the one
        logged in, or, from any till, a pharmacist who types their own username and PIN here."""
        shift = self.state.shift
        if shift is None:
            self.say("未开班，不能登记药师在岗", error=True)
            return
        if self.state.may("duty.pharmacist"):
            me = (self.client.user or {}).get("display_name", "")
            self.send(lambda: self._duty(shift["id"], me, None))
            return
        who = self.state.who_may("duty.pharmacist")
        self.app.push_screen(AuthoriseScreen(self.state, "药师在岗/离岗", "duty.pharmacist", str(shift["id"]),
                                             note=f"请{who}输入本人工号和 PIN：在岗则离岗，未在岗则登记在岗"),
                             lambda out: self._duty_authorised(shift["id"], out))

    def _duty_authorised(self, shift_id: int, out: dict[str, Any] | None) -> None:
        self.focus_scan()
        if out is None:
            self.say("未登记药师在岗/离岗")
            return
        self.send(lambda: self._duty(shift_id, out["user"]["display_name"], out["grant"]))

    async def _duty(self, shift_id: int, name: str, grant: str | None) -> None:
        await self.state.check_duty()
        if self.state.on_duty and name in self.state.on_duty:
            await self.client.duty_off(shift_id, grant)
            self.say(f"{name} 已离岗")
        else:
            await self.client.duty_on(shift_id, grant)
            self.say(f"{name} 已登记在岗")
        await self.state.check_duty()

    def action_search(self) -> None:
        self.app.push_screen(SearchScreen(self.state, self.query_one("#scan", ScanInput).value), self._picked)
        self.query_one("#scan", ScanInput).value = ""

    def action_pay(self) -> None:
        async def intent() -> None:  # queued: payment opens after every scan before it is answered
            if self.app.screen is not self:  # a popup is open already (F2 pressed twice, a search …)
                return
            if self.sale is None or not self.sale["lines"]:
                self.say("当前没有商品，无需收款", error=True)
                return
            try:  # the service's own answer: the completion's refusals, asked before any money is taken
                ready = await self.client.readiness(self.sale["id"])
            except (ServiceError, ServiceUnavailable):
                # No answer (the service away, or one without the question): the payment opens as before, and its
                # completion, retried until answered, is refused the same way if something is missing.
                ready = {"ready": True, "missing": []}
            if not ready["ready"]:
                self.say("不能收款：" + "；".join(missing_words(m) for m in ready["missing"]), error=True)
                return
            self.app.push_screen(PaymentScreen(self.state, self.sale), self._paid)
        self.send(intent)

    def _paid(self, done: dict[str, Any] | None) -> None:
        if done is not None:
            self.show_sale(None)
            self.say(f"收款完成 单号 {done.get('sale_no')}  找零 {yuan(done.get('change_fen', 0))} 元")
        self.focus_scan()

    def action_quantity(self) -> None:
        async def intent() -> None:  # queued: it acts on the line a scan before it added, once that is shown
            if self.app.screen is not self:
                return
            line = self.selected_line()
            if line is None:
                self.say("没有可修改的商品行", error=True)
                return
            self.app.push_screen(QtyScreen(line), lambda qty: self._set_qty(line, qty))
        self.send(intent)

    def action_split(self) -> None:
        """Ctrl+L 拆零: the selected line's item sold by its split unit (粒, 片) instead of the box, where the item
        may be; the box scanned is taken off (one box less) and the split quantity asked."""
        async def intent() -> None:  # queued, as F7: it acts on the line just scanned
            if self.app.screen is not self:
                return
            line = self.selected_line()
            if line is None:
                self.say("拆零：请先扫描要拆零的药品", error=True)
            elif line["split"]:
                self.say(f"{line['name']} 已是拆零行：按 F7 改数量", error=True)
            elif not line.get("split_unit"):
                self.say(f"{line['name']} 不可拆零销售", error=True)
            else:
                title = f"拆零：{line['name']} {line['spec']}，按{line['split_unit']}卖，数量（{line['split_unit']}）"
                self.app.push_screen(QtyScreen(line, title), lambda qty: self._split(line, qty))
        self.send(intent)

    def _split(self, box: dict[str, Any], qty: int | None) -> None:
        self.focus_scan()
        if qty is None:
            return

        async def intent() -> None:
            sale_id = await self._ensure_sale()
            # The split line first: refused (stock, the rules), the box stays as it was.
            self.show_sale(await self.client.add_line(sale_id, item_id=box["item_id"], qty=qty, split=True))
            if box["qty"] > 1:
                self.show_sale(await self.client.set_qty(sale_id, box["id"], box["qty"] - 1))
            else:
                self.show_sale(await self.client.remove_line(sale_id, box["id"]))
            lines = self.sale["lines"] if self.sale else []
            at = next((n for n, ln in enumerate(lines) if ln["item_id"] == box["item_id"] and ln["split"]), None)
            if at is not None:
                self.query_one("#lines", SaleLines).move_cursor(row=at)
                self.say(added_words(lines[at]).replace("已加入", "已拆零"))
        self.send(intent)

    def _set_qty(self, line: dict[str, Any], qty: int | None) -> None:
        self.focus_scan()
        if qty is None:
            return

        async def intent() -> None:
            sale_id = await self._ensure_sale()
            self.show_sale(await self.client.set_qty(sale_id, line["id"], qty))
            self.say(f"已修改数量：{line['name']} × {qty}")
        self.send(intent)

    def action_remove(self) -> None:
        """F10: the line under the cursor (the one just scanned, unless the arrows moved), named and confirmed."""
        async def intent() -> None:  # queued, as F7
            if self.app.screen is not self:
                return
            line = self.selected_line()
            if line is None:
                self.say("没有可删除的商品行", error=True)
                return
            n = self.sale["lines"].index(line) + 1 if self.sale else 0
            question = f"删除第 {n} 行：{line['name']} {line['spec']} × {line['qty']}{line['unit']}？"
            self.app.push_screen(ConfirmScreen(question), lambda yes: self._remove(line, bool(yes)))
        self.send(intent)

    def _remove(self, line: dict[str, Any], confirmed: bool) -> None:
        self.focus_scan()
        if not confirmed:
            self.say(f"未删除：{line['name']}")
            return

        async def intent() -> None:
            sale_id = await self._ensure_sale()
            self.show_sale(await self.client.remove_line(sale_id, line["id"]))
            self.say(f"已删除：{line['name']}")
        self.send(intent)

    def action_suspend(self) -> None:
        async def intent() -> None:
            if self.sale is None or not self.sale["lines"]:
                self.say("当前没有商品，无需挂单", error=True)
                return
            await self.client.suspend(self.sale["id"])
            self.show_sale(None)
            self.say("已挂单，可按 F6 取单")
        self.send(intent)

    def action_resume(self) -> None:
        self._drop_empty_sale()
        if self.sale is not None:
            self.say("请先收款（F2）或挂单（F5）当前销售，再取单", error=True)
            return
        self.app.push_screen(SuspendedScreen(self.state), self._resume)

    def _resume(self, sale_id: str | None) -> None:
        self.focus_scan()
        if sale_id is None:
            return

        async def intent() -> None:
            self.show_sale(await self.client.resume(sale_id))
            self.say("已取单")
        self.send(intent)

    def action_void(self) -> None:
        """F8: the reason asked at once where the post may void; otherwise the in-place authorisation first,
        saying who may (before any reason is typed)."""
        if self.sale is None:
            self.say("当前没有销售可作废", error=True)
            return
        if self.state.may("sale.void"):
            self.app.push_screen(VoidScreen(), lambda asked: self._void(asked, None))
            return
        who = self.state.who_may("sale.void")
        self.say(f"作废须由{who}授权：请{who}输入工号和 PIN")
        self.app.push_screen(AuthoriseScreen(self.state, f"作废当前销售：须由{who}授权", "sale.void", str(self.sale["id"]),
                                             note=f"当前岗位不能作废；请{who}在此输入本人工号和 PIN"),
                             self._void_authorised)

    def _void_authorised(self, out: dict[str, Any] | None) -> None:
        if out is None:
            self.focus_scan()
            self.say("未授权，销售未作废")
            return
        self.app.push_screen(VoidScreen(f"{out['user']['display_name']} 已授权"),
                             lambda asked: self._void(asked, out["grant"]))

    def _void(self, asked: VoidRequest | None, grant: str | None, second: str | None = None) -> None:
        self.focus_scan()
        if asked is None:
            return

        async def intent() -> None:
            if self.sale is None:
                return
            try:
                await self.client.void(self.sale["id"], asked.reason, grant, second)
            except ServiceError as exc:
                if exc.code == "SEC-01" and exc.details.get("missing") and not second:
                    self._ask_second_person(f"作废 {yuan(self.sale['total_fen'])} 元", exc, "sale.void",
                                            str(self.sale["id"]), lambda out: self._void(asked, grant, out["grant"]))
                    return
                raise
            self.show_sale(None)
            self.say("已作废")
        self.send(intent)

    def _ask_second_person(self, what: str, exc: ServiceError, action: str, subject: str,
                           then: Callable[[dict[str, Any]], None]) -> None:
        """The service asks for a second person (SEC-01: above the store's amount, or a later day): the same
        dialog; the service checks their PIN and answers with a grant the request sent again carries."""
        self.say(exc.text_zh, error=True)

        def given(who: dict[str, Any] | None) -> None:
            if who is None:
                self.focus_scan()
                self.say("未复核，未办理", error=True)
                return
            then(who)
        self.app.push_screen(AuthoriseScreen(self.state, f"{what}：须另一位有权人员复核", action, subject,
                                             note="请复核人（店长或另一位药师）输入工号和 PIN", second=True), given)

    def action_shift(self) -> None:
        """F12: close the shift (count the cash → Z report); once closed, open a new one."""
        async def intent() -> None:  # queued: after every scan before it is answered
            if self.app.screen is not self:
                return
            shift = self.state.shift
            if shift is None:
                self.app.push_screen(OpenShiftScreen(self.state), self._shift_opened)
                return
            if self.sale is not None and self.sale["lines"]:
                self.say("请先收款（F2）或挂单（F5）当前销售，再交班", error=True)
                return
            self.app.push_screen(CloseShiftScreen(self.state, shift), self._shift_closed)
        self.send(intent)

    def _shift_closed(self, report: dict[str, Any] | None) -> None:
        self.focus_scan()
        if report is None:
            return
        self.state.update(shift=None)
        self.show_sale(None)
        self._next_sale_id = None
        self.say(f"已结班（班次 #{report['shift_id']}），不能收款。按 F12 开新班", error=True)

    def _shift_opened(self, shift: dict[str, Any] | None) -> None:
        self.focus_scan()
        if shift is None:
            self.say("未开班，不能收款。按 F12 开新班", error=True)
            return
        self.state.update(shift=shift)
        self.say(f"已开班 班次 #{shift.get('id', '?')}，请扫码")
