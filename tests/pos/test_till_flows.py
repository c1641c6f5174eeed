"""The till's other flows against a real service: other tender, F1 and Esc everywhere, returns (and their
refusal), the status bar and serial scans from the event stream, the service going away and coming back,
a lost session. What the screen shows is checked, and what the service recorded."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from textual.widgets import DataTable, Digits, Input

from pos.screens.authorise import AuthoriseScreen
from pos.screens.card import CardScreen
from pos.screens.help import HelpScreen
from pos.screens.login import LoginScreen
from pos.screens.payment import PaymentScreen
from pos.screens.prescription import PrescriptionScreen
from pos.screens.qty import QtyScreen
from pos.screens.returns import ReturnScreen
from pos.screens.sale import SaleScreen
from pos.screens.search import SearchScreen
from pos.screens.shift import CloseShiftScreen
from pos.screens.suspended import SuspendedScreen
from pos.screens.void import VoidScreen
from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.services.context import Ctx
from server.services.store.users import find_user, set_staff_profile
from tests.conftest import BARCODE_MASK, BARCODE_VITC
from tests.pos.helpers import (
    SIZE,
    basket,
    current,
    log_in,
    message,
    pay_cash,
    popup,
    ready_to_scan,
    sales,
    scan,
    settled,
    status,
    till,
    type_text,
    until,
)
from tests.pos.live import LiveService

pytestmark = pytest.mark.slow


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_another_tender_completes_with_its_reference(service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_MASK)
            await settled(pilot, sale)
            await pilot.press("f2")
            pay = await popup(pilot, PaymentScreen)
            await pilot.press("f3")  # other tender: the reference is asked, the amount is the service's total
            assert "凭证号" in str(pay.query_one("#tender-label").render())
            await type_text(pilot, "WX-20261122-77", "enter")
            await until(pilot, lambda: pay.done is not None, what="the completion")
            assert pay.query_one("#change", Digits).value == "0.00"

        with engine.connect() as conn:
            tender = conn.execute(text("SELECT kind, amount_fen, reference FROM tender")).one()
        assert tuple(tender) == ("other", 990, "WX-20261122-77")
        assert [r.status for r in sales(engine)] == ["completed"]

    asyncio.run(body())


def test_f1_shows_the_keys_and_esc_backs_out_one_step_on_every_screen(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            # login: Esc goes from the PIN back to the user name
            await type_text(pilot, "u_pharmacist", "enter")
            await until(pilot, lambda: app.focused is not None and app.focused.id == "pin", what="the PIN")
            await type_text(pilot, "99")
            await pilot.press("escape")
            assert app.focused is not None and app.focused.id == "username" and app.screen.query_one("#pin", Input).value == ""
            await type_text(pilot, "", "enter")
            await type_text(pilot, "2222", "enter")
            await until(pilot, lambda: ready_to_scan(app), what="the sale screen")
            sale = current(app, SaleScreen)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)

            await pilot.press("f1")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
            shown = message(app.screen, "#keys")
            assert "F2 收款" in shown and "F11 退货" in shown and "Esc 返回上一步" in shown
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="Esc out of the help")
            for key, kind in (("f9", SearchScreen), ("f2", PaymentScreen), ("f6", SuspendedScreen),
                              ("f7", QtyScreen), ("f8", VoidScreen), ("f11", ReturnScreen), ("f3", CardScreen),
                              ("f4", PrescriptionScreen)):
                if kind is SuspendedScreen:
                    await pilot.press("f5")  # F6 wants no sale in progress: put this one aside first
                    await settled(pilot, sale)
                await pilot.press(key)
                await popup(pilot, kind)
                await pilot.press("escape")
                await until(pilot, lambda: app.screen is sale, what=f"Esc out of {kind.__name__}")
                if kind is SuspendedScreen:
                    await pilot.press("f6")
                    await popup(pilot, SuspendedScreen)
                    await until(pilot, lambda: bool(current(app, SuspendedScreen).sales), what="the suspended list")
                    await pilot.press("enter")
                    await until(pilot, lambda: ready_to_scan(app), what="the sale again")
                    await settled(pilot, sale)
                assert sale.query_one("#total", Digits).value == "3.50"  # nothing was lost on the way
            # the sale screen's own Esc: clears what is half typed
            await type_text(pilot, "69023")
            await pilot.press("escape")
            assert sale.query_one("#scan", Input).value == ""
            # F12 with a sale in progress is refused; with none, Esc leaves the close unmade
            await pilot.press("f12")
            await settled(pilot, sale)
            assert "再交班" in message(sale)
            await pilot.press("f5")
            await settled(pilot, sale)
            await pilot.press("f12")
            await popup(pilot, CloseShiftScreen)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="Esc out of the close")
            assert app.state.shift is not None
            # F3 / F4 without a sale in progress: nothing to pay by card or prescribe for
            await pilot.press("f3")
            await settled(pilot, sale)
            assert "F3 医保：当前没有商品" in message(sale)
            await pilot.press("f4")
            await settled(pilot, sale)
            assert "F4 处方：当前没有商品" in message(sale)

    asyncio.run(body())


async def sell(pilot: Any, sale: SaleScreen, *codes: str) -> str:
    for code in codes:
        await scan(pilot, code)
    await settled(pilot, sale)
    done = await pay_cash(pilot, sale, "100")
    return str(done["sale_no"])


def test_a_return_found_by_the_receipt_number_goes_back_by_line_to_quarantine_or_stock(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot, "pharmacist")
            sale_no = await sell(pilot, sale, BARCODE_VITC, BARCODE_MASK, BARCODE_MASK)
            await type_text(pilot, sale_no, "enter")  # the receipt number typed where a scan goes
            ret: ReturnScreen = await popup(pilot, ReturnScreen)
            await until(pilot, lambda: ret.query_one("#return-lines", DataTable).has_focus, what="the lines")
            table = ret.query_one("#return-lines", DataTable)
            assert [r[1] for r in rows(table)] == ["维生素C片", "医用外科口罩"]
            assert [r[4] for r in rows(table)] == ["1", "2"]  # returnable
            await pilot.press("plus", "plus")  # the drug: 1 at most
            assert "最多可退 1" in message(ret, "#return-message")
            await pilot.press("down", "space")  # both masks
            await pilot.press("f5")  # the pharmacist's call where policy leaves it: back on the shelf
            assert [r[7] for r in rows(table)] == ["隔离区(制度)", "可售库存"]
            await pilot.press("f2")
            await until(pilot, lambda: ret.query_one("#reason", Input).has_focus, what="the reason")
            await pilot.press("escape")  # one step back: the lines again, the picks kept
            assert table.has_focus and ret.picked
            await pilot.press("enter")
            await until(pilot, lambda: ret.query_one("#reason", Input).has_focus, what="the reason")
            await pilot.press("enter")
            assert "必须填写原因" in message(ret, "#return-message")
            await type_text(pilot, "顾客买错", "enter")
            await until(pilot, lambda: ret.done is not None, what="the return")
            assert ret.query_one("#refund", Digits).value == "23.30"
            shown = message(ret, "#return-message")
            assert "现金 23.30" in shown and "请退还现金 23.30 元" in shown, shown
            await until(pilot, lambda: [r[4] for r in rows(table)] == ["0", "0"], what="nothing left to return")
            await pilot.press("escape")
            await until(pilot, lambda: ready_to_scan(app), what="back to the sale")

        with engine.connect() as conn:
            ret_row = conn.execute(text("SELECT total_fen, reason, to_quarantine FROM sale_return")).one()
            moved = conn.execute(text("SELECT i.code, m.location, m.qty FROM stock_movement m JOIN item i "
                                      "ON i.id = m.item_id WHERE m.kind = 'sale_return' ORDER BY i.code")).all()
        assert tuple(ret_row) == (2330, "顾客买错", 1)
        assert [tuple(m) for m in moved] == [("FY0001", "sellable", 2), ("YP0002", "quarantine", 1)]

    asyncio.run(body())


@pytest.mark.refuses("SEC-01")
def test_a_cashier_may_look_a_receipt_up_but_the_return_is_refused_SEC_01(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            sale_no = await sell(pilot, sale, BARCODE_MASK)
            await pilot.press("f11")
            ret: ReturnScreen = await popup(pilot, ReturnScreen)
            assert "退货须由药师授权" in message(ret, "#return-message")  # at once, before the receipt
            await type_text(pilot, "20990101-0001", "enter")
            await until(pilot, lambda: "20990101-0001" in message(ret, "#return-message"), what="not found")
            assert ret.query_one("#receipt", Input).value == "20990101-0001"  # kept, to correct
            ret.query_one("#receipt", Input).value = ""
            await type_text(pilot, sale_no, "enter")
            await popup(pilot, AuthoriseScreen)  # found: the pharmacist is asked before any line is picked
            await pilot.press("escape")  # nobody authorises
            await until(pilot, lambda: app.screen is ret, what="back to the return")
            assert "SEC-01" not in message(ret, "#return-message") and "须由药师授权" in message(ret, "#return-message")
            await pilot.press("space", "f2")
            assert not ret.picked and ret.done is None

        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM sale_return")).scalar_one() == 0

    asyncio.run(body())


def qualify(engine: Engine, ctx: Ctx, username: str) -> None:
    with core_unit(engine) as u:
        user = find_user(orm(u), ctx, username)
        set_staff_profile(u, ctx, id_of(user), {
            "qualification": "licensed_pharmacist", "qualification_no": "ZY001",
            "qualification_expiry": ctx.today + timedelta(days=700), "registered_store_code": ctx.settings.store.fixmedins_code,
            "contract_start": ctx.today - timedelta(days=200), "contract_end": ctx.today + timedelta(days=400)})


@pytest.mark.refuses("STAFF-01")
def test_the_status_bar_and_serial_scans_follow_the_event_stream(live: LiveService, settings: Settings,
                                                                  engine: Engine, ctx: Ctx) -> None:
    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=(80, 24)) as pilot:
            sale = await log_in(pilot, "pharmacist")
            assert "收款机 T01" in status(app) and "测试pharmacist" in status(app)
            await until(pilot, lambda: "无在岗药师" in status(app), what="the duty shown")
            assert "读卡器?" in status(app)  # not reported: never shown as working
            await pilot.press("ctrl+g")  # no staff record yet: the service refuses (STAFF-01)
            await settled(pilot, sale)
            assert "STAFF-01" in message(sale)
            qualify(engine, ctx, "u_pharmacist")
            await pilot.press("ctrl+g")
            await settled(pilot, sale)
            await until(pilot, lambda: "在岗药师 测试pharmacist" in status(app), what="on duty")

            live.hub.set_state("T01", "printer", {"ok": False, "text": "缺纸"})
            # Someone else signed in: the bar shows this operator's own 9001 as the service answers it (not yet).
            live.hub.set_state(None, "insurance", {"signed_in": True, "operators": [{"opter": "other"}]})
            live.hub.set_state("T02", "scanner", {"ok": False, "text": "未连接"})  # another till's: not ours
            await until(pilot, lambda: "打印机✕缺纸" in status(app) and "医保✕未签到" in status(app), what="the states")
            assert "扫码枪?" in status(app)

            live.hub.publish("T01", "scan", {"code": BARCODE_VITC, "kind": "gtin"})
            live.hub.publish("T02", "scan", {"code": BARCODE_MASK, "kind": "gtin"})  # another till's scan
            live.hub.publish("T01", "scan", {"code": BARCODE_VITC, "kind": "gtin"})
            await until(pilot, lambda: sale.sale is not None and sale.sale["lines"] and
                        sale.sale["lines"][0]["qty"] == 2 and sale.pending == 0, what="the serial scans")
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["维生素C片"]
            await pay_cash(pilot, sale, "10")
            printed = re.search(r"\d{8}-\d{4}", message(sale))
            assert printed, message(sale)
            sale_no = printed.group(0)
            live.hub.publish("T01", "scan", {"code": sale_no, "kind": "unknown"})  # the receipt's barcode
            ret: ReturnScreen = await popup(pilot, ReturnScreen)
            await until(pilot, lambda: ret.found is not None, what="the receipt's sale")
            assert ret.found is not None and ret.found["sale"]["sale_no"] == sale_no

    asyncio.run(body())


def test_the_service_away_and_back_the_sale_resumes_and_the_completion_is_retried_until_known(
        live: LiveService, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, live.base, timeout=2)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            sale_id = basket(sale)["id"]

            live.stop()
            await scan(pilot, BARCODE_MASK)  # not sent: not shown as added, retried
            await until(pilot, lambda: "无法连接" in message(sale), what="the plain message")
            await until(pilot, lambda: "服务未连接，正在重试" in status(app), what="the status bar")
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["维生素C片"]
            live.start()
            await until(pilot, lambda: sale.pending == 0 and len(basket(sale)["lines"]) == 2, timeout=20,
                        what="the scan to reach the service")
            assert basket(sale)["id"] == sale_id and sale.query_one("#total", Digits).value == "13.40"
            await until(pilot, lambda: "服务✓" in status(app), what="the link back")

            live.stop()
            await pilot.press("f2")
            pay: PaymentScreen = await popup(pilot, PaymentScreen)
            await type_text(pilot, "20", "enter")
            await until(pilot, lambda: "正在重试确认收款" in message(pay, "#pay-message"), what="the retry")
            await pilot.press("escape")  # may not leave while the completion is unknown
            assert app.screen is pay and "不要重复收款" in message(pay, "#pay-message")
            assert pay.done is None
            live.start()
            await until(pilot, lambda: pay.done is not None, timeout=20, what="the completion")
            assert pay.query_one("#change", Digits).value == "6.60"

        done = sales(engine)
        assert [(r.id, r.status, r.total_fen, r.change_fen) for r in done] == [(sale_id, "completed", 1340, 660)]

    asyncio.run(body())


def test_a_lost_session_goes_back_to_the_login_and_the_sale_resumes_after_it(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            sale_id = basket(sale)["id"]
            async with httpx.AsyncClient(base_url=service) as http:  # the token revoked behind the till's back
                token = app.client.token
                assert (await http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 204
            await scan(pilot, BARCODE_MASK)
            login = await popup(pilot, LoginScreen)
            assert "登录已失效" in message(login, "#login-message") and "已保留" in message(login, "#login-message")
            assert app.state.resume_sale_id == sale_id
            sale = await log_in(pilot)
            await settled(pilot, sale)
            assert sale.sale is not None and sale.sale["id"] == sale_id, message(sale)
            assert app.sale_screen is sale  # the app's own reference: the new login's sale screen
            # The screens left behind stopped following the state: only this screen's status bar does.
            await until(pilot, lambda: len(app.state._listeners) == 1, what="the old status bars unsubscribed")
            assert [ln["name"] for ln in sale.sale["lines"]] == ["维生素C片"]  # the refused scan was not added
            assert "已恢复" in message(sale)
            await scan(pilot, BARCODE_MASK)
            await settled(pilot, sale)
            await pay_cash(pilot, sale, "20")

        assert [(r.id, r.status, r.total_fen) for r in sales(engine)] == [(sale_id, "completed", 1340)]

    asyncio.run(body())
