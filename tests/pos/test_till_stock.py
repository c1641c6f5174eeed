"""Stock in at the till's back office (后台, Ctrl+B; #19) at 80×24, keyboard only, against in-process services over one
database of a chain's two stores: 追溯码 scanned at receipt go to their line, a code scanned twice, one received before
and one of the wrong form refused with the service's words, none of them kept; 购进退出 of an approved delivery found
by scanning its box or its 追溯码, more than is left refused naming how much is; 调拨 out of store A (the person in charge), taken
in with 验收 at store B by its pharmacist, the person in charge refused the 验收 by name.

One module store pair, one till per store (a till and a login cost what the suite's budget cannot spare)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from textual.pilot import Pilot

from catalog.classes import GspClass, Storage, ZonePurpose
from pos.screens.backoffice import BackOfficeScreen
from pos.screens.receiving import ReceivingScreen
from pos.screens.supplier_return import SupplierReturnScreen
from pos.screens.transfer import TransferScreen
from server.config import Settings
from server.db.engine import make_engine
from server.db.uow import core_unit
from server.roles import Role
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store, register_till, update_profile
from server.services.store.users import add_user
from tests.conftest import BARCODE_VITC, ROLE_PINS, make_settings
from tests.pos.conftest import seed_till_shop
from tests.pos.helpers import log_in, message, scan, till, type_text, until
from tests.pos.live import LiveService
from tests.pos.test_till_backoffice import SIZE, fits, hands, leave, open_office, settled, shown_keys

CHAIN, B_CODE = "LS-0001", "P44030000012"
KEPT = "81000000000000000001"  # a box received with the fixture's delivery
NEW_1, NEW_2 = "81000000000000000002", "81000000000000000003"
WRONG_FORM = "71000000000000000004"  # 20 digits, but a trace code begins with 8


class Chain:
    def __init__(self, engine: Engine, a: Settings, b: Settings, live_a: LiveService, live_b: LiveService,
                 ctx: Ctx) -> None:
        self.engine, self.a, self.b, self.live_a, self.live_b, self.ctx = engine, a, b, live_a, live_b, ctx

    def one(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).one()


def _login(http: httpx.Client, post: str) -> dict[str, str]:
    token = http.post("/auth/login", json={"username": f"u_{post}", "pin": ROLE_PINS[post]}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Chain]:
    folder = tmp_path_factory.mktemp("stock")
    shutil.copy(sqlite_template, folder / "dingdian.db")
    url = f"sqlite:///{folder / 'dingdian.db'}"
    a = make_settings(url, till={"code": "T01"})
    b = make_settings(url, till={"code": "T01"}, store={"fixmedins_code": B_CODE, "name": "分店12"})
    engine = make_engine(url)
    ctx = Ctx(bootstrap_store(engine, a), a)
    seed_till_shop(engine, ctx)
    ctx_b = Ctx(bootstrap_store(engine, b), b)
    with core_unit(engine) as u:  # two stores of one chain; B has the item in its catalog and a pharmacist
        update_profile(u, ctx, {"chain_code": CHAIN, "business_scope": "处方药、非处方药、医疗器械、食品"})
        update_profile(u, ctx_b, {"chain_code": CHAIN, "business_scope": "处方药、非处方药"})
        register_till(u, ctx_b, "T01", "1号台", "")
        catalog_service.create_zone(u, ctx_b, "Z-OTC", "非处方药区", ZonePurpose.DISPLAY, {GspClass.OTC_A, GspClass.OTC_B},
                                    "internal", Storage.NORMAL, False)
        catalog_service.create_item(u, ctx_b, {"code": "YP0002", "name": "维生素C片", "spec": "0.1g*100片",
                                               "approval_no": "国药准字H2", "gsp_class": "otc_a", "route": "internal",
                                               "price_fen": 360}, [], "Z-OTC")
        add_user(u, ctx_b, "u_pharmacist", "分店药师", ROLE_PINS["pharmacist"], {Role.PHARMACIST})
    live_a, live_b = LiveService(a).start(), LiveService(b).start()
    with httpx.Client(base_url=live_a.base) as http:  # a supplier (首营) and an approved delivery with a traced box
        mg, ph = _login(http, "manager"), _login(http, "pharmacist")
        sup = http.post("/suppliers", headers=mg, json={
            "name": "国药控股北京", "licence_no": "京AA0000001", "scope": ["drugs"],
            "licence_expiry": (ctx.today + timedelta(days=365)).isoformat()}).json()["id"]
        assert http.post(f"/suppliers/{sup}/approve", headers=mg, json={"note": "首营资料齐全"}).status_code == 200
        vitc = http.get(f"/items/by-barcode/{BARCODE_VITC}", headers=mg).json()["id"]
        assert http.post(f"/suppliers/{sup}/items/{vitc}/approve", headers=mg, json={}).status_code == 201
        receipt = http.post("/receipts", headers=ph, json={
            "supplier_id": sup, "dynt_no": "SH-RET", "purc_invo_no": "FP-RET", "lines": [{
                "barcode": BARCODE_VITC, "lot_no": "LT-RET", "manufactured_on": str(ctx.today - timedelta(days=30)),
                "expires_on": str(ctx.today + timedelta(days=600)), "qty": 5, "unit_cost_fen": 180,
                "zone_code": "Z-OTC", "trace_codes": [KEPT]}]}).json()
        assert http.post(f"/receipts/{receipt['id']}/inspection", headers=ph,
                         json={"verdicts": [{"line_no": 1, "outcome": "accepted"}]}).status_code == 200
        assert http.post(f"/receipts/{receipt['id']}/approve", headers=mg, json={}).status_code == 200
    yield Chain(engine, a, b, live_a, live_b, ctx)
    live_a.stop()
    live_b.stop()
    engine.dispose()


async def trace_codes_are_scanned_into_the_receipt_s_lines(chain: Chain, pilot: Pilot[Any]) -> None:
    """The pharmacist: a line entered, its boxes' codes scanned; the wrong ones refused with the service's words."""
    today = chain.ctx.today
    rec: ReceivingScreen = await open_office(pilot, "f2", ReceivingScreen)
    await pilot.press("f3")
    await settled(pilot)
    await type_text(pilot, "", "enter")  # the supplier under the cursor
    await type_text(pilot, "SH-TRACE", "enter")
    await type_text(pilot, "FP-TRACE", "enter")
    await scan(pilot, NEW_1)  # a code before any line: nothing to put it on
    assert "请先录入" in message(rec, "#office-message") and rec.input.value == ""
    await scan(pilot, BARCODE_VITC)
    await until(pilot, lambda: rec.field == 0, what="the item found by its barcode")
    for answer in ("LT-TRACE", (today - timedelta(days=10)).strftime("%Y%m%d"),
                   (today + timedelta(days=700)).strftime("%Y%m%d"), "3", "1.80"):
        await type_text(pilot, answer, "enter")
    await pilot.press("enter")  # the item's zone, offered
    assert rec.table.row_count == 1 and rec.field == -1
    for code in (NEW_1, NEW_2):
        await scan(pilot, code)
        await settled(pilot)
    assert rec.lines[0]["trace_codes"] == [NEW_1, NEW_2]
    assert "2/3" in message(rec, "#office-message") and rec.table.get_row_at(0)[-1] == "追溯码 2"
    for code, said in ((NEW_1, "追溯码重复扫描"), (KEPT, "追溯码已入过库"), (WRONG_FORM, "首位为 7，应为 8")):
        await scan(pilot, code)
        await settled(pilot)
        shown = message(rec, "#office-message")
        assert "[CODE-TRACE]" in shown and said in shown and shown.split("\n")[1].isascii(), shown
    assert rec.lines[0]["trace_codes"] == [NEW_1, NEW_2]  # none of the three kept
    fits(rec)
    await pilot.press("f2")
    await until(pilot, lambda: rec.step == "inspect", what="the receipt saved")
    receipt_id = rec.receipt["id"]  # type: ignore[index]
    with chain.engine.connect() as conn:
        kept = conn.execute(text("SELECT c.code FROM receipt_trace_code c JOIN receipt_line l ON l.id = c.line_id "
                                 f"WHERE l.receipt_id = {receipt_id} ORDER BY c.id")).scalars().all()
    assert kept == [NEW_1, NEW_2]


async def a_delivery_goes_back_to_its_supplier_found_by_its_box(chain: Chain, pilot: Pilot[Any]) -> None:
    """The person in charge: the box scanned finds the approved delivery; too much refused, then 2 packs go back."""
    ret: SupplierReturnScreen = await open_office(pilot, "f6", SupplierReturnScreen)
    assert [r[1] for r in (ret.table.get_row_at(n) for n in range(ret.table.row_count))] == ["随货单 SH-RET"]
    await scan(pilot, NEW_1)  # a box of a delivery not approved yet: nothing of it can go back
    await settled(pilot)
    assert "不在已批准的采购入库单中" in message(ret, "#office-message") and ret.step == "list"
    await scan(pilot, BARCODE_VITC)
    await until(pilot, lambda: ret.step == "qty", what="the delivery's line found by the box")
    await pilot.press("escape", "escape")
    await settled(pilot)
    assert ret.step == "list"
    await scan(pilot, KEPT)  # the box's trace code: the very line it came in on
    await until(pilot, lambda: ret.step == "qty", what="the delivery's line found by the trace code")
    assert "f2" not in shown_keys(ret) and ret.receipt is not None and ret.receipt["dynt_no"] == "SH-RET"
    await type_text(pilot, "6", "enter")  # 6 packs of the 5 delivered
    await pilot.press("f2")
    await type_text(pilot, "近效期退货", "enter")
    await settled(pilot)
    shown = message(ret, "#office-message")
    assert "[STOCK]" in shown and "最多还可退 5" in shown and ret.step == "lines", shown
    fits(ret)
    await pilot.press("enter")
    await type_text(pilot, "2", "enter")
    assert ret.table.get_row_at(0)[-2:] == ["2", "合格区"]
    await pilot.press("f2")
    await type_text(pilot, "包装破损退货", "enter")
    await until(pilot, lambda: ret.step == "list" and ret.busy == 0, what="the return")
    assert "已提交" in message(ret, "#office-message")
    back = chain.one("SELECT r.reason, r.purc_invo_no, l.qty, l.location FROM supplier_return r "
                     "JOIN supplier_return_line l ON l.return_id = r.id")
    assert tuple(back) == ("包装破损退货", "FP-RET", 2, "sellable")
    assert chain.one("SELECT SUM(qty) FROM stock_movement WHERE kind = 'purchase_return'")[0] == -2


async def a_transfer_leaves_for_another_store_of_the_chain(chain: Chain, pilot: Pilot[Any]) -> int:
    """The person in charge sends 3 packs of the batch chosen; its 验收 here is not theirs."""
    tr: TransferScreen = await open_office(pilot, "f7", TransferScreen)
    assert tr.table.row_count == 0 and "f3" in shown_keys(tr)
    await pilot.press("f3")
    await type_text(pilot, B_CODE, "enter")
    await scan(pilot, BARCODE_VITC)
    await until(pilot, lambda: tr.step == "batch", what="the item's batches")
    lots = [tr.table.get_row_at(n)[2] for n in range(tr.table.row_count)]
    assert set(lots) == {"L3", "LT-RET"}
    tr.table.move_cursor(row=lots.index("L3"))
    await pilot.press("enter")
    await type_text(pilot, "x", "enter")  # not a quantity: asked again
    assert "请输入数量" in message(tr, "#office-message") and tr.step == "qty"
    tr.input.value = ""
    await type_text(pilot, "3", "enter")
    assert tr.step == "out" and tr.table.get_row_at(0)[2:5] == ["L3", tr.out[0]["expires_on"], "3"]
    fits(tr)
    await pilot.press("f2")
    await until(pilot, lambda: tr.step == "list" and tr.busy == 0 and tr.table.row_count == 1, what="the transfer")
    assert "已发出" in message(tr, "#office-message") and tr.table.get_row_at(0)[-1] == "在途"
    await pilot.press("enter")  # 验收 is the receiving store's inspector's
    assert "调拨验收须由" in message(tr, "#office-message") and tr.step == "list"
    transfer_id, qty = chain.one("SELECT t.id, l.qty FROM stock_transfer t JOIN stock_transfer_line l "
                                 "ON l.transfer_id = t.id")
    assert qty == 3
    return int(transfer_id)


async def the_receiving_store_takes_it_in(chain: Chain, pilot: Pilot[Any], transfer_id: int) -> None:
    tr: TransferScreen = await open_office(pilot, "f7", TransferScreen)
    assert "f3" not in shown_keys(tr)  # sending is the person in charge's
    assert tr.table.get_row_at(0)[0] == str(transfer_id) and tr.table.get_row_at(0)[-1] == "待本店验收"
    await pilot.press("enter")
    assert tr.step == "take" and tr.table.get_row_at(0)[1:3] == ["维生素C片", "L3"]  # as the sender names it
    await pilot.press("f2")  # nothing judged yet
    await settled(pilot)
    assert "还有 1 行未验收" in message(tr, "#office-message")
    await pilot.press("enter")  # 合格
    assert tr.table.get_row_at(0)[-1] == "合格"
    fits(tr)
    await pilot.press("f2")
    await until(pilot, lambda: tr.step == "list" and tr.busy == 0, what="the 验收")
    assert "已验收入库" in message(tr, "#office-message") and tr.table.row_count == 0
    assert chain.one("SELECT m.qty, m.location FROM stock_movement m JOIN store s ON s.id = m.store_id "
                     f"WHERE m.kind = 'transfer_in' AND s.code = '{B_CODE}'") == (3, "sellable")


def test_stock_in_and_out_at_the_till(chain: Chain) -> None:
    async def at_a() -> int:
        async with till(chain.a, chain.live_a.base).run_test(size=SIZE) as pilot:
            await log_in(pilot, "pharmacist")
            await pilot.press("ctrl+b")
            await until(pilot, lambda: isinstance(pilot.app.screen, BackOfficeScreen), what="the menu")
            await pilot.pause()
            offered = message(pilot.app.screen, "#back-office-entries")
            assert "F7  调拨" in offered and "购进退出" not in offered
            await pilot.press("f6")  # not the pharmacist's: nothing opens
            assert isinstance(pilot.app.screen, BackOfficeScreen)
            await pilot.press("escape")
            await trace_codes_are_scanned_into_the_receipt_s_lines(chain, pilot)
            await leave(pilot)
            await hands(pilot, "manager")
            await a_delivery_goes_back_to_its_supplier_found_by_its_box(chain, pilot)
            await leave(pilot)
            return await a_transfer_leaves_for_another_store_of_the_chain(chain, pilot)

    async def at_b(transfer_id: int) -> None:
        async with till(chain.b, chain.live_b.base).run_test(size=SIZE) as pilot:
            await log_in(pilot, "pharmacist")
            await the_receiving_store_takes_it_in(chain, pilot, transfer_id)

    asyncio.run(at_b(asyncio.run(at_a())))
