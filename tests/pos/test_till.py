"""The till (Textual) driven by its Pilot against a real service (tests/pos/live.py: the service in-process).

Each test seeds the shop, starts the service on the test's database and runs the app headless at a
size close to a real till's terminal. The service, not the screen, is the judge of what was sold.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine, text
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Digits, Input, Static

from pos.app import DingdianTill
from pos.client import TillClient
from pos.screens.confirm import ConfirmScreen
from pos.screens.payment import PaymentScreen
from pos.screens.qty import QtyScreen
from pos.screens.sale import SaleScreen
from pos.screens.search import SearchScreen
from pos.screens.shift import CloseShiftScreen, OpenShiftScreen
from pos.screens.suspended import SuspendedScreen
from pos.screens.void import VoidScreen
from pos.widgets.sale_lines import SaleLines
from server.config import Settings
from tests.conftest import BARCODE_ICE, BARCODE_VITC, ROLE_PINS
from tests.pos.helpers import (
    BARCODE_BULK,
    SIZE,
    basket,
    current,
    log_in,
    message,
    open_shift,
    pay_cash,
    popup,
    ready_to_scan,
    sales,
    scan,
    settled,
    till,
    type_text,
    until,
)

pytestmark = pytest.mark.slow


async def confirming(pilot: Pilot[Any]) -> ConfirmScreen:
    """The yes/no question is up (it has no field to focus: Enter and Esc are its keys)."""
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what="the question")
    await pilot.pause()
    question = pilot.app.screen
    assert isinstance(question, ConfirmScreen)
    return question


def test_log_in_scan_and_pay_cash(service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            assert app.state.shift is not None and app.state.shift["status"] == "open"
            assert "T01" in str(sale.query_one("#status").render())
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            table = sale.query_one("#lines", SaleLines)
            assert table.row_count == 1, message(sale)
            row = [str(c) for c in table.get_row_at(0)]
            assert "维生素C片" in row and "3.50" in row
            assert sale.query_one("#total", Digits).value == "3.50"

            await pilot.press("f2")
            pay = await popup(pilot, PaymentScreen)
            await type_text(pilot, "20.00", "enter")
            await until(pilot, lambda: pay.done is not None, what="the completion")
            assert pay.query_one("#change", Digits).value == "16.50"
            await pilot.press("enter")  # next customer
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            assert sale.query_one("#total", Digits).value == "0.00"
            assert "收款完成" in message(sale)

        done = sales(engine)
        assert [(r.status, r.total_fen, r.change_fen) for r in done] == [("completed", 350, 1650)]
        assert done[0].sale_no

    asyncio.run(body())


def test_a_scanner_burst_of_100_codes_2ms_apart_adds_exactly_100(service: str, settings: Settings,
                                                                 engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            # As a keyboard-wedge scanner types: each key posted as the terminal driver would, 2 ms apart,
            # without waiting for the till to catch up.
            for _ in range(100):
                for ch in BARCODE_BULK:
                    app.post_message(events.Key(ch, ch))
                    await asyncio.sleep(0.002)
                app.post_message(events.Key("enter", "\r"))
                await asyncio.sleep(0.002)
            # Not only no intent pending: the last codes' messages may still be on their way up from the input
            # to the screen (a loaded machine): every one of the 100 must arrive and be answered, or this times out.
            await until(pilot, lambda: sale.pending == 0 and sale.sale is not None
                        and sum(ln["qty"] for ln in sale.sale["lines"]) >= 100, timeout=40,
                        what=f"the 100 scans to be answered ({message(sale)})")
            await pilot.pause()
            assert sale.pending == 0 and sale.sale is not None, message(sale)
            assert sum(ln["qty"] for ln in sale.sale["lines"]) == 100, message(sale)  # and not one more
            assert sale.query_one("#scan", Input).value == ""
            sale_id = sale.sale["id"]

        with engine.connect() as conn:
            qty = conn.execute(text("SELECT COALESCE(SUM(qty), 0) FROM sale_line WHERE sale_id = :s"),
                               {"s": sale_id}).scalar_one()
        assert qty == 100

    asyncio.run(body())


@pytest.mark.refuses("GSP-06")
def test_a_refused_scan_shows_the_rule_and_the_input_is_ready_for_the_next(service: str,
                                                                         settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_ICE)
            await settled(pilot, sale)
            shown = message(sale)
            assert "GSP-06" in shown and "抽检不合格" in shown, shown
            entry = sale.query_one("#scan", Input)
            assert entry.has_focus and entry.value == ""
            # the next scan goes straight in
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            assert sale.query_one("#total", Digits).value == "3.50"
            assert "GSP-06" not in message(sale)

    asyncio.run(body())


def test_search_by_pinyin_initials_adds_the_chosen_item(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await type_text(pilot, "wss", "enter")  # 维生素 → wss: not a barcode, so the search opens with it
            await popup(pilot, SearchScreen)
            search = current(app, SearchScreen)
            await until(pilot, lambda: bool(search.hits), what="search results")
            assert search.hits[0]["item"]["name"] == "维生素C片"
            assert "50" in [str(c) for c in search.query_one("#hits", DataTable).get_row_at(0)][6]  # stock shown
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert sale.query_one("#total", Digits).value == "3.50"

    asyncio.run(body())


def test_the_shift_is_opened_with_the_float_typed_then_a_sale_is_suspended_and_resumed(
        service: str, settings: Settings) -> None:
    async def body() -> None:
        app = DingdianTill(settings, client=TillClient(service))  # no auto-open: the till asks for the float
        async with app.run_test(size=SIZE) as pilot:
            await type_text(pilot, "u_cashier", "enter")
            await type_text(pilot, ROLE_PINS["cashier"], "enter")
            await popup(pilot, OpenShiftScreen)
            await type_text(pilot, "200", "enter")
            await until(pilot, lambda: ready_to_scan(app), what="the sale screen")
            sale = current(app, SaleScreen)
            assert app.state.shift is not None and app.state.shift["float_fen"] == 20000
            await scan(pilot, BARCODE_VITC)
            await pilot.press("f5")
            await settled(pilot, sale)
            assert sale.sale is None and "已挂单" in message(sale)
            await pilot.press("f6")
            await until(pilot, lambda: bool(getattr(app.screen, "sales", None)), what="the suspended list")
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert sale.sale is not None and sale.query_one("#total", Digits).value == "3.50"

    asyncio.run(body())


def test_quantity_remove_and_void(service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot, "pharmacist")  # voiding is a pharmacist's or manager's call
            await scan(pilot, BARCODE_VITC)
            await scan(pilot, BARCODE_BULK)
            await settled(pilot, sale)
            assert sale.query_one("#total", Digits).value == "4.70"
            await pilot.press("up", "f7")  # the cursor followed the last scan (line 2): up to line 1
            await popup(pilot, QtyScreen)
            await pilot.press("backspace", "3", "enter")  # line 1 → 3 boxes
            await settled(pilot, sale)
            assert sale.query_one("#total", Digits).value == "11.70"
            await pilot.press("down", "f10")  # remove line 2, named and confirmed
            await confirming(pilot)
            await pilot.press("enter")
            await settled(pilot, sale)
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["维生素C片"]
            assert sale.query_one("#total", Digits).value == "10.50"
            await pilot.press("f8")
            await popup(pilot, VoidScreen)
            await pilot.press("enter")  # no reason: refused on the spot
            assert isinstance(app.screen, VoidScreen)
            await type_text(pilot, "顾客不要了", "enter")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert sale.sale is None and "已作废" in message(sale), message(sale)

        assert [(r.status, r.total_fen) for r in sales(engine)] == [("voided", 1050)]

    asyncio.run(body())


def test_f12_closes_the_shift_with_the_counted_cash_and_shows_the_z_report(service: str, settings: Settings,
                                                                          engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            shift_id = open_shift(app)["id"]
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pay_cash(pilot, sale, "20")

            await pilot.press("f12")
            close = await popup(pilot, CloseShiftScreen)
            await type_text(pilot, "3.00", "enter")  # 3.50 expected (float 0 + the sale): 0.50 short
            await until(pilot, lambda: close.report is not None, what="the Z report")
            report = str(close.query_one("#zreport", Static).render())
            assert "销售笔数：1" in report and "销售金额：3.50" in report, report
            assert "现金 3.50" in report and "应有现金：3.50" in report and "实点现金：3.00" in report, report
            assert "差额：-0.50 元（短款）" in report, report
            assert close.report is not None and close.report["variance_fen"] == -50

            await pilot.press("enter")  # back to the till, closed
            await until(pilot, lambda: ready_to_scan(app), what="the sale screen")
            assert app.state.shift is None and "已结班" in message(sale)
            await scan(pilot, BARCODE_VITC)  # scanning is refused, nothing is sent
            await settled(pilot, sale)
            assert sale.sale is None and "已结班" in message(sale) and "F12" in message(sale)

            await pilot.press("f12")  # F12 now opens a new shift
            await popup(pilot, OpenShiftScreen)
            await type_text(pilot, "100", "enter")
            await until(pilot, lambda: ready_to_scan(app) and app.state.shift is not None, what="the new shift")
            assert open_shift(app)["id"] != shift_id and open_shift(app)["float_fen"] == 10000
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            assert sale.query_one("#total", Digits).value == "3.50"

        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, counted_cash_fen FROM shift WHERE id = :i"),
                               {"i": shift_id}).one()
        assert (row.status, row.counted_cash_fen) == ("closed", 300)

    asyncio.run(body())


def test_an_empty_open_sale_closes_with_the_shift(service: str, settings: Settings, engine: Engine) -> None:
    """A refused first scan leaves an empty sale open on the service: it must not block the close."""
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_ICE)  # refused: the sale is open on the service, empty
            await settled(pilot, sale)
            await pilot.press("f12")
            close = await popup(pilot, CloseShiftScreen)
            await type_text(pilot, "0", "enter")
            await until(pilot, lambda: close.report is not None, what="the Z report")

        with engine.connect() as conn:
            assert conn.execute(text("SELECT shift.status FROM shift JOIN till ON till.id = shift.till_id WHERE till.code = 'T01'")).scalar_one() == "closed"
            assert conn.execute(text("SELECT status, void_reason FROM sale")).one() == ("voided", "空单，随结班关闭")

    asyncio.run(body())


def test_f6_with_an_empty_sale_shows_the_suspended_list(service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await pilot.press("f5")
            await settled(pilot, sale)
            assert "已挂单" in message(sale)
            await scan(pilot, BARCODE_BULK)  # a new sale, its only line removed: open, empty
            await pilot.press("f10")
            await confirming(pilot)
            await pilot.press("enter")
            await settled(pilot, sale)
            assert sale.sale is not None and not sale.sale["lines"]
            empty_id = sale.sale["id"]

            await pilot.press("f6")
            listing = await popup(pilot, SuspendedScreen)
            await until(pilot, lambda: bool(listing.sales), what="the suspended list")
            await pilot.press("escape")  # not now: the next scan goes into the same (empty) sale again
            await until(pilot, lambda: ready_to_scan(app), what="back to the sale")
            await scan(pilot, BARCODE_BULK)
            await settled(pilot, sale)
            assert sale.sale is not None and sale.sale["id"] == empty_id and len(sale.sale["lines"]) == 1
            await pilot.press("f10")
            await confirming(pilot)
            await pilot.press("enter")
            await settled(pilot, sale)
            await pilot.press("f6")
            await popup(pilot, SuspendedScreen)
            await until(pilot, lambda: bool(getattr(app.screen, "sales", None)), what="the suspended list")
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert sale.sale is not None and sale.sale["id"] != empty_id
            assert sale.query_one("#total", Digits).value == "3.50"

        assert sorted(r.status for r in sales(engine)) == ["open", "open"]  # the empty one was not multiplied

    asyncio.run(body())


def test_a_service_that_is_down_is_reported(settings: Settings) -> None:
    async def body() -> None:
        app = DingdianTill(settings, client=TillClient("http://127.0.0.1:9", timeout=1))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"u_cashier", "enter", "1", "enter")
            await until(pilot, lambda: "无法连接" in message(app.screen, "#login-message"), what="the message")
            assert "未连接" in str(app.screen.query_one("#status").render())

    asyncio.run(body())


def test_the_cursor_follows_the_line_just_scanned_f10_names_it_and_the_lines_are_renumbered(
        service: str, settings: Settings, engine: Engine) -> None:
    """板蓝根 then 阿莫西林 scanned: F10 is meant for 阿莫西林 (the line just scanned), says so, and Esc keeps it."""
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            table = sale.query_one("#lines", SaleLines)
            await scan(pilot, BARCODE_VITC)
            await scan(pilot, BARCODE_BULK)
            await settled(pilot, sale)
            assert table.cursor_row == 1  # on the line just added, not on row 1
            await scan(pilot, BARCODE_VITC)  # more of line 1: the cursor goes back to it
            await settled(pilot, sale)
            assert table.cursor_row == 0 and basket(sale)["lines"][0]["qty"] == 2
            await scan(pilot, BARCODE_BULK)
            await pilot.press("f10")  # pressed before the scan is answered: it still means the line scanned
            confirm = await confirming(pilot)
            question = str(confirm.query_one("#question").render())
            assert "第 2 行" in question and "复方甘草片" in question and "× 2" in question, question
            await pilot.press("escape")  # not removed
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["维生素C片", "复方甘草片"]
            assert "未删除" in message(sale)

            await pilot.press("up", "f10")  # now the first line, chosen with the arrows
            confirm = await confirming(pilot)
            assert "维生素C片" in str(confirm.query_one("#question").render())
            await pilot.press("enter")
            await settled(pilot, sale)
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["复方甘草片"]
            # the sale shows 1..n; the service keeps its own line numbers
            assert [str(c) for c in table.get_row_at(0)][:2] == ["1", "复方甘草片"]
            assert basket(sale)["lines"][0]["line_no"] == 2
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["1", "2"]
            assert table.cursor_row == 1

    asyncio.run(body())
