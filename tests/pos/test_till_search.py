"""Search that tells products apart, at the till (#18): rows of the same name show the maker, Rx/OTC and the 医保
mark; the stock shown is what can be sold today; full pinyin finds items beside initials and Chinese; a mistyped
barcode is named as one (its check digit, and the right one); full-width digits typed with an IME are the same."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from textual.widgets import DataTable, Digits

from pos.screens.search import SearchScreen
from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.stock import batches as stock
from tests.conftest import BARCODE_VITC, mapping_approval
from tests.insurance.conftest import CODES
from tests.pos.helpers import SIZE, basket, log_in, message, popup, scan, settled, till, type_text, until

pytestmark = pytest.mark.slow

WIDE = {ord(d): ord(d) + 0xFEE0 for d in "0123456789"}  # 0-9 as a Chinese IME types them: ０-９


def two_makers(engine: Engine, ctx: Ctx) -> None:
    """小柴胡颗粒 10g*10袋 from two makers: one OTC and 医保甲, the other Rx and outside the list; and every batch
    of a third box expired."""
    mk = ctx.today - timedelta(days=300)
    approval = mapping_approval(engine, ctx)  # the 医保 mapping is a controlled fact (CARD-07)
    with core_unit(engine) as u:
        for code, maker, gsp, zone, mapping in (
                ("YP0101", "太极集团", "otc_a", "Z-OTC", {"nhsa_code": CODES["jia"], "insurance_category": "jia"}),
                ("YP0102", "白云山", "rx", "Z-RX", {})):
            item = catalog_service.create_item(u, ctx, {
                "code": code, "name": "小柴胡颗粒", "spec": "10g*10袋", "manufacturer": maker, "approval_no": f"国药准字Z{code}",
                "gsp_class": gsp, "route": "internal", "price_fen": 1800} | mapping, [], zone,
                approval if mapping else None)
            u.flush()
            stock.add_opening_batch(u, ctx, id_of(item), None, f"B-{code}", "L1", mk, ctx.today + timedelta(days=300),
                                    900, 12)
        old = catalog_service.create_item(u, ctx, {
            "code": "YP0103", "name": "小柴胡片", "spec": "0.4g*36片", "manufacturer": "仲景", "approval_no": "国药准字Z9",
            "gsp_class": "otc_a", "route": "internal", "price_fen": 1500}, [], "Z-OTC")
        u.flush()
        stock.add_opening_batch(u, ctx, id_of(old), None, "B-OLD", "L2", mk, ctx.today - timedelta(days=1), 900, 27)


def rows(search: SearchScreen) -> list[list[str]]:
    table = search.query_one("#hits", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def search_for(pilot: Any, text: str) -> SearchScreen:
    await type_text(pilot, text, "enter")  # not a code: the search opens with it
    search: SearchScreen = await popup(pilot, SearchScreen)
    await until(pilot, lambda: search.hits and len(rows(search)) == len(search.hits), what=f"hits for {text}")
    return search


def test_same_named_boxes_are_told_apart_and_the_stock_is_what_can_be_sold(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    two_makers(engine, ctx)

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            search = await search_for(pilot, "XCHKL")
            shown = rows(search)
            assert [r[:7] for r in shown] == [
                ["小柴胡颗粒", "10g*10袋", "太极集团", "甲类非处方药", "甲", "18.00", "12盒"],
                ["小柴胡颗粒", "10g*10袋", "白云山", "处方药", "—", "18.00", "12盒"]], shown
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")

            search = await search_for(pilot, "xiaochaihupian")  # full pinyin; every batch expired: nothing to sell
            assert [(r[0], r[6]) for r in rows(search)] == [("小柴胡片", "0盒")]
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")

            search = await search_for(pilot, "weisheng")  # full pinyin, the last syllable as far as typed
            assert [r[0] for r in rows(search)] == ["维生素C片"]
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert sale.query_one("#total", Digits).value == "3.50"

    asyncio.run(body())


def test_a_mistyped_barcode_names_its_check_digit_and_full_width_digits_scan_as_the_code(
        service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            wrong = BARCODE_VITC[:-1] + str((int(BARCODE_VITC[-1]) + 1) % 10)
            await scan(pilot, wrong)
            await settled(pilot, sale)
            shown = message(sale)
            assert "CODE-GTIN" in shown and f"校验位错误：应为 {BARCODE_VITC[-1]}" in shown, shown
            assert sale.sale is None or not sale.sale["lines"]
            await scan(pilot, BARCODE_VITC.translate(WIDE))  # typed with the IME on
            await settled(pilot, sale)
            assert [ln["name"] for ln in basket(sale)["lines"]] == ["维生素C片"], message(sale)
            assert sale.query_one("#total", Digits).value == "3.50"

    asyncio.run(body())
