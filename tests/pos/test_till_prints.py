"""The till's 小票 screen (Ctrl+P; issue #18): the demo's simulated printer keeps each receipt as text the cashier
can read and print again (重打); an idle printer is shown ready; a print job a crash of the service cut off is put
in front of the cashier at once, to reprint (marked 重打) or not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from textual.widgets import DataTable, Static

from pos.screens.prints import PrintsScreen
from server.config import Settings
from server.db.models import PrintJob, PrintJobKind
from server.db.models.base import table_of
from server.db.uow import core_unit
from server.services import printing
from server.services.context import Ctx
from tests.conftest import BARCODE_VITC
from tests.pos.conftest import seed_till_shop
from tests.pos.helpers import SIZE, log_in, pay_cash, popup, sales, scan, settled, status, till, until
from tests.pos.live import LiveService

pytestmark = pytest.mark.slow


@pytest.fixture
def live(engine: Engine, ctx: Ctx, settings: Settings) -> Iterator[LiveService]:
    """The service with its devices running: the till's printer is the demo's simulated one."""
    seed_till_shop(engine, ctx)
    service = LiveService(settings, devices=True).start()
    yield service
    service.stop()


def paper(screen: Any) -> str:
    return str(screen.query_one("#paper", Static).render())


def test_the_receipt_printed_is_shown_as_text_and_printed_again_marked(live: LiveService, settings: Settings,
                                                                      engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await until(pilot, lambda: "打印机✓" in status(app), what="the idle printer shown ready")
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pay_cash(pilot, sale, "5.00")
            (done,) = sales(engine)
            await pilot.press("ctrl+p")
            prints = await popup(pilot, PrintsScreen)
            await until(pilot, lambda: done.sale_no in paper(prints), what="the receipt as text")
            text = paper(prints)
            assert "销售小票" in text and "维生素C片" in text and "找零" in text and "重打" not in text.split("\n")[2]
            assert "没有待确认的打印任务" in str(prints.query_one("#uncertain-title", Static).render())
            await pilot.press("f7")  # the receipt shown, again
            await until(pilot, lambda: "已重打" in str(prints.query_one("#prints-message", Static).render()),
                        what="the reprint queued")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await pilot.press("ctrl+p")
            prints = await popup(pilot, PrintsScreen)
            await until(pilot, lambda: bool(prints.paper) and prints.paper[0]["reprint"], what="the reprint")
            assert "** 重打 REPRINT **" in paper(prints) and done.sale_no in paper(prints)

    asyncio.run(body())


def test_a_job_cut_off_by_a_crash_is_put_before_the_cashier_at_once(live: LiveService, settings: Settings,
                                                                   engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pay_cash(pilot, sale, "3.50")
            (done,) = sales(engine)
            state = live.app.state.dingdian
            ctx = Ctx(state.store_id, settings)
            with core_unit(engine) as u:  # as the database is after a crash in the middle of sending a receipt
                cut = printing.add_job(u, ctx, "T01", PrintJobKind.RECEIPT, done.id, {})
                u.connection().execute(sa.update(table_of(PrintJob)).where(table_of(PrintJob).c.id == cut.id)
                                       .values(status="printing", attempts=1))
            with core_unit(engine) as u:
                assert printing.recover_interrupted(u, ctx, "T01") == 1  # the restarted service's first step
            state.devices.printers["T01"].look()  # and its printer's state, with the count, to the till
            prints = await popup(pilot, PrintsScreen)  # at once, without a key
            table = prints.query_one("#uncertain", DataTable)
            await until(pilot, lambda: table.row_count == 1, what="the cut-off job listed")
            assert f"小票 {done.sale_no}" in [str(c) for c in table.get_row_at(0)]
            before = len(state.devices.simulated_printer().slips)
            await pilot.press("f2")  # 重打
            await until(pilot, lambda: table.row_count == 0 and "已重打" in str(
                prints.query_one("#prints-message", Static).render()), what="resolved with a reprint")
            await until(pilot, lambda: len(state.devices.simulated_printer().slips) == before + 1, what="printed")
            slip = state.devices.simulated_printer().slips[-1]
            assert slip.reprint and "重打" in slip.text and done.sale_no in slip.text
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT status FROM print_job WHERE id = :i"), {"i": cut.id}).scalar() \
                    == "resolved"
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")

    asyncio.run(body())
