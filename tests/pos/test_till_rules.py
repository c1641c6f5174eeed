"""The rules speak before the money (#18): a 处方药 added says at once it needs a prescription and a pharmacist (F4);
a traced drug says how many 追溯码 to scan and that they go into the same input; a refused trace code (scanned twice)
shows its message; F2 offers the payment only when the service says the sale can complete, listing what is missing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine

from pos.screens.confirm import ConfirmScreen
from pos.screens.payment import PaymentScreen
from server.config import Settings
from server.services.context import Ctx
from tests.conftest import BARCODE_AMOX, BARCODE_VITC
from tests.pos.card_shop import item_ids
from tests.pos.helpers import SIZE, basket, log_in, message, pay_cash, scan, settled, till, type_text, until
from tests.server.test_trace_codes import CODE1, CODE2, traced

pytestmark = pytest.mark.slow


@pytest.mark.refuses("RX-01")
def test_rx_and_trace_codes_are_asked_for_at_once_and_payment_waits_for_them(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    traced(engine, ctx, item_ids(engine)["YP0002"])  # 维生素C片: a 追溯码 per box

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            said = message(sale)
            assert "维生素C片 × 2" in said and "需扫追溯码 2 个" in said and "直接扫入本输入框" in said, said
            await scan(pilot, BARCODE_AMOX)
            await settled(pilot, sale)
            assert "处方药：须登记处方并经在岗药师审核，按 F4" in message(sale), message(sale)

            await pilot.press("f2")  # two things missing: both listed, the payment not offered
            await settled(pilot, sale)
            said = message(sale)
            assert app.screen is sale and said.startswith("不能收款："), said
            assert "[RX-01]" in said and "按 F4 处方" in said and "[TRACE-MISSING]" in said and "扫入追溯码" in said, said

            await pilot.press("up")  # onto 维生素C片 (the cursor followed the 阿莫西林 scan)
            await type_text(pilot, CODE1, "enter")
            await settled(pilot, sale)
            assert "已记录追溯码：维生素C片（1/2），还需扫 1 个" in message(sale), message(sale)
            await type_text(pilot, CODE1, "enter")  # the same box again
            await settled(pilot, sale)
            assert "TRACE-DUP" in message(sale) and CODE1 in message(sale), message(sale)
            await type_text(pilot, CODE2, "enter")
            await settled(pilot, sale)
            assert "（2/2），已扫齐" in message(sale), message(sale)

            await pilot.press("down", "f10")  # the Rx line goes: nothing is missing any more
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            await pilot.press("enter")
            await settled(pilot, sale)
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["维生素C片"]
            done = await pay_cash(pilot, sale, "10")
            assert done["status"] == "completed" and done["change_fen"] == 300
            assert not isinstance(app.screen, PaymentScreen)

    asyncio.run(body())
