"""Daily details at the till (#18): 拆零 from the line just scanned (Ctrl+L), where the item allows it and refused
where it does not; Enter on an empty cash amount takes the exact sum."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine
from textual.widgets import Digits, Input

from pos.screens.payment import PaymentScreen
from pos.screens.qty import QtyScreen
from pos.widgets.sale_lines import SaleLines
from server.config import Settings
from tests.conftest import BARCODE_AMOX, BARCODE_VITC
from tests.pos.helpers import SIZE, basket, log_in, message, popup, sales, scan, settled, till, type_text, until

pytestmark = pytest.mark.slow


def test_ctrl_l_sells_the_box_just_scanned_by_the_capsule_and_enter_pays_the_exact_sum(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pilot.press("ctrl+l")  # 维生素C片 is sold by the box only
            await settled(pilot, sale)
            assert "不可拆零" in message(sale) and app.screen is sale

            await scan(pilot, BARCODE_AMOX)  # 24 capsules a box, sold by the capsule too
            await pilot.press("ctrl+l")  # queued behind the scan: it means the box just scanned
            qty: QtyScreen = await popup(pilot, QtyScreen)
            assert "按粒卖" in str(qty.query_one(".dialog-title").render())
            assert qty.query_one("#qty", Input).value == ""
            await type_text(pilot, "６", "enter")  # full-width, as an IME types it
            await settled(pilot, sale)
            lines = basket(sale)["lines"]
            assert [(ln["name"], ln["qty"], ln["unit"], ln["split"]) for ln in lines] == [
                ("维生素C片", 1, "盒", False), ("阿莫西林胶囊", 6, "粒", True)], lines
            assert "已拆零：阿莫西林胶囊 × 6粒" in message(sale) and "F4" in message(sale), message(sale)
            table = sale.query_one("#lines", SaleLines)
            assert table.cursor_row == 1 and [str(c) for c in table.get_row_at(1)][:4] == [
                "2", "阿莫西林胶囊", "0.25g*24粒", "6粒"]
            assert sale.query_one("#total", Digits).value == "7.10"  # 3.50 + 6 × 0.60

            await pilot.press("up", "f10")  # the Rx line stays for another test: pay the OTC alone
            await until(pilot, lambda: app.screen is not sale, what="the question")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back")
            await pilot.press("down", "f10")
            await until(pilot, lambda: app.screen is not sale, what="the question")
            await pilot.press("enter")
            await settled(pilot, sale)
            await pilot.press("f2")
            pay: PaymentScreen = await popup(pilot, PaymentScreen)
            await pilot.press("enter")  # nothing typed: the exact amount
            await until(pilot, lambda: pay.done is not None, what="the completion")
            assert pay.done is not None and pay.done["change_fen"] == 0

        assert [(r.status, r.total_fen, r.change_fen) for r in sales(engine)] == [("completed", 350, 0)]

    asyncio.run(body())
