"""Stock care at the till (后台, Ctrl+B; #19) at 80×24, keyboard and scanner only, against the in-process service: a
destruction with its method and two witnesses (an expiry write-off of a batch not expired, and a witness who is the
actor, refused first — nothing written); a recall of a batch that was sold (an empty reason refused), the batch
stopped and its buyers listed with the insured person's identity number masked; the month's upkeep of a zone with a
quality doubt (one without what the doubt is refused), the batch stopped, then cleared with why (an empty why
refused); the near-expiry pull list per zone (a zone the store does not have refused).

One service, one till and one login for the walk (what a till test costs is its service, its till and its logins)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from pos.screens.backoffice import BackOfficeScreen
from pos.screens.losses import LossScreen
from pos.screens.near_expiry import NearExpiryScreen
from pos.screens.recall import RecallScreen
from pos.screens.sale import SaleScreen
from pos.screens.upkeep import UpkeepScreen
from server.config import Settings
from server.db.engine import make_engine
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from tests.conftest import ROLE_PINS, make_settings
from tests.pos.conftest import seed_till_shop
from tests.pos.helpers import BARCODE_BULK, current, message, pay_cash, popup, scan, till, type_text, until
from tests.pos.helpers import settled as sale_settled
from tests.pos.live import LiveService
from tests.pos.test_till_backoffice import SIZE, fits, leave, settled, shown_keys

WHOLE_ID = "110101199003071234"


class Shop:
    def __init__(self, settings: Settings, engine: Engine, ctx: Ctx, live: LiveService) -> None:
        self.settings, self.engine, self.ctx, self.live = settings, engine, ctx, live

    def one(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).one()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Shop]:
    folder = tmp_path_factory.mktemp("care")
    shutil.copy(sqlite_template, folder / "dingdian.db")
    settings = make_settings(f"sqlite:///{folder / 'dingdian.db'}", till={"code": "T01", "export_dir": str(folder / "exports")})
    engine = make_engine(settings.database.url)
    ctx = Ctx(bootstrap_store(engine, settings), settings)
    seed_till_shop(engine, ctx)
    live = LiveService(settings).start()
    yield Shop(settings, engine, ctx, live)
    live.stop()
    engine.dispose()


async def open_entry(pilot: Pilot[Any], key: str, kind: type[Any]) -> Any:
    await pilot.press("ctrl+b")
    await until(pilot, lambda: isinstance(pilot.app.screen, BackOfficeScreen), what="the back office")
    await pilot.pause()
    await pilot.press(key)
    screen = await popup(pilot, kind)
    await settled(pilot)
    return screen


async def answer(pilot: Pilot[Any], *texts: str) -> None:
    for t in texts:
        await type_text(pilot, t, "enter")
    await settled(pilot)


def refused(screen: Any, rule: str) -> str:
    said = message(screen, "#office-message")
    assert f"[{rule}]" in said and said.split("\n")[1].isascii(), said  # Chinese, then the service's English
    return said


async def a_destruction_needs_its_method_and_two_other_witnesses(shop: Shop, pilot: Pilot[Any]) -> None:
    loss: LossScreen = await open_entry(pilot, "f8", LossScreen)
    assert "f2" not in shown_keys(loss)  # nothing to hand in before a line
    await pilot.press("f6")  # 过期报损 of a batch good for 500 days
    await scan(pilot, "L3")  # the maker's 批号 off the box finds B-VITC-1
    await until(pilot, lambda: loss.step == "qty" and loss.busy == 0, what="the batch found")
    await answer(pilot, "2")
    assert loss.table.row_count == 1 and "f2" in shown_keys(loss)
    fits(loss)
    await pilot.press("f2")
    await answer(pilot, "已过期")
    assert "尚未过期" in refused(loss, "GSP-06") and loss.step == "batch" and loss.table.row_count == 1
    await pilot.press("f7")  # the same line destroyed: the method, and the pharmacist as their own witness
    await pilot.press("f2")
    await answer(pilot, "抽检不合格", "焚烧", "u_pharmacist")
    assert loss.step == "pin1" and loss.input.password  # a PIN typed here is never shown
    await answer(pilot, ROLE_PINS["pharmacist"], "u_manager", ROLE_PINS["manager"])
    assert "本人" in refused(loss, "GSP-06") and loss.answers == {}  # the PINs are not kept for another try
    fits(loss)
    assert shop.one("SELECT COUNT(*) FROM stock_loss")[0] == 0
    await pilot.press("f2")
    await answer(pilot, "抽检不合格", "焚烧", "u_cashier", ROLE_PINS["cashier"], "u_manager", ROLE_PINS["manager"])
    assert loss.step == "done" and "已记录销毁单" in message(loss, "#office-message")
    row = shop.one("SELECT l.kind, l.method, w1.username, w2.username FROM stock_loss l JOIN app_user w1 ON "
                   "w1.id = l.witness_1 JOIN app_user w2 ON w2.id = l.witness_2")
    assert tuple(row) == ("destruction", "焚烧", "u_cashier", "u_manager")
    assert shop.one("SELECT SUM(qty) FROM stock_movement WHERE kind = 'destruction'")[0] == -2
    await pilot.press("f9")  # the record as PDF, saved; the service keeps the copy it handed out
    await until(pilot, lambda: loss.last_saved is not None, what="the PDF saved")
    saved = loss.last_saved
    assert saved is not None and saved.read_bytes().startswith(b"%PDF")
    assert shop.one("SELECT kind, content FROM issued_document")[0:2] == ("loss", saved.read_bytes())


async def a_recall_stops_the_batch_and_lists_its_buyers_masked(shop: Shop, pilot: Pilot[Any]) -> None:
    recall: RecallScreen = await open_entry(pilot, "f9", RecallScreen)
    await scan(pilot, "B-BULK-1")
    await until(pilot, lambda: recall.step == "reason" and recall.busy == 0, what="the batch found")
    assert "复方甘草片" in str(recall.query_one("#office-title").render())
    await answer(pilot, "", "")  # no reason: refused, asked again
    refused(recall, "GSP-06")
    assert recall.step == "reason" and shop.one("SELECT COUNT(*) FROM recall")[0] == 0
    await answer(pilot, "厂家主动召回", "药监召〔2026〕1号")
    assert recall.step == "done" and recall.table.row_count == 1
    row = recall.table.get_row_at(0)
    assert row[3] == "1" and row[4] == "张三" and row[5] != WHOLE_ID and row[5].endswith("1234") and "*" in row[5]
    assert WHOLE_ID not in str(recall.query_one("#office-message").render())
    fits(recall)
    assert shop.one("SELECT status FROM batch WHERE batch_no = 'B-BULK-1'")[0] == "stopped"


async def the_month_s_upkeep_stops_a_doubt_and_clears_it_with_why(shop: Shop, pilot: Pilot[Any]) -> None:
    care: UpkeepScreen = await open_entry(pilot, "f10", UpkeepScreen)
    assert {d["zone"] for d in care.due} == {"Z-RX", "Z-OTC", "Z-DEV", "Z-FOOD"}
    await answer(pilot, "Z-OTC")
    assert care.step == "inspect" and [b["batch_no"] for b in care.batches] == ["B-BULK-1", "B-VITC-1"]
    await scan(pilot, "B-BULK-1")  # scanned: 合格
    assert care.table.get_row_at(0)[-1] == "合格" and care.row == 1
    await pilot.press("f6")  # B-VITC-1 doubted, without saying what the doubt is
    await answer(pilot, "")
    await pilot.press("f2")
    await settled(pilot)
    refused(care, "GSP-06")
    assert shop.one("SELECT COUNT(*) FROM upkeep")[0] == 0
    await pilot.press("f6")
    await answer(pilot, "包装受潮")
    fits(care)
    await pilot.press("f2")
    await settled(pilot)
    assert care.step == "start" and "1 个有质量疑问已停售" in message(care, "#office-message")
    assert "Z-OTC" not in {d["zone"] for d in care.due}
    assert shop.one("SELECT status FROM batch WHERE batch_no = 'B-VITC-1'")[0] == "stopped"
    await pilot.press("f7")
    await settled(pilot)
    assert care.step == "doubts" and [d["batch_no"] for d in care.doubts] == ["B-VITC-1"]
    await pilot.press("f9")
    await answer(pilot, "")  # no why: refused, nothing cleared
    refused(care, "GSP-06")
    await pilot.press("f9")
    await answer(pilot, "复检合格")
    assert care.doubts == [] and "已解除" in message(care, "#office-message")
    cleared = shop.one("SELECT u.username, l.cleared_reason FROM upkeep_line l JOIN app_user u ON u.id = l.cleared_by")
    assert tuple(cleared) == ("u_pharmacist", "复检合格")
    assert shop.one("SELECT status FROM batch WHERE batch_no = 'B-VITC-1'")[0] == "active"


async def the_near_expiry_pull_list_per_zone(shop: Shop, pilot: Pilot[Any]) -> None:
    near: NearExpiryScreen = await open_entry(pilot, "f11", NearExpiryScreen)
    assert [r["batch_no"] for r in near.pull] == ["B-MASK-OLD", "B-AMOX-2"]  # expired first, then 30 days left
    assert near.table.get_row_at(0)[-1] == "已过期" and near.table.get_row_at(1)[-1] == "30天"
    fits(near)
    await answer(pilot, "Z-NONE")  # a zone the store does not have: said, not an empty list
    refused(near, "NOT_FOUND")
    assert [r["batch_no"] for r in near.pull] == ["B-MASK-OLD", "B-AMOX-2"] and near.input.value == "Z-NONE"  # kept
    near.input.value = ""
    await answer(pilot, "Z-RX")
    assert [r["batch_no"] for r in near.pull] == ["B-AMOX-2"] and "Z-RX" in str(near.query_one("#office-title").render())
    await answer(pilot, "")  # every zone again
    await pilot.press("down")
    assert "f6" not in shown_keys(near)  # 30 days left: not to be written off as expired
    await pilot.press("up")
    assert "f6" in shown_keys(near)
    await pilot.press("f6")  # the expired batch written off: its batch and quantity offered
    loss = await popup(pilot, LossScreen)
    await until(pilot, lambda: loss.step == "qty" and loss.busy == 0, what="the batch offered")
    assert loss.kind == "expiry_writeoff" and loss.input.value == "5"
    await pilot.press("enter", "f2")
    await answer(pilot, "过期下架")
    assert loss.step == "done", message(loss, "#office-message")
    await pilot.press("escape")
    await until(pilot, lambda: pilot.app.screen is near and near.busy == 0, what="the list again")
    assert [r["batch_no"] for r in near.pull] == ["B-AMOX-2"]  # the written-off batch is gone from the list


def card_buyer(shop: Shop) -> None:
    """The one sale made at the till as a card sale's buyer: the insured person the recall lists (masked)."""
    with shop.engine.begin() as conn:
        sale_id, user_id = conn.execute(text("SELECT id, opened_by FROM sale")).one()
        conn.execute(text(
            "INSERT INTO sale_insured (store_id, sale_id, method, id_reason, mdtrt_cert_type, mdtrt_cert_no, card_sn, "
            "psn_no, psn_name, psn_cert_type, certno, gend, insutype, psn_type, balc_fen, insuplc_admdvs, buyer_name, "
            "buyer_certno, identified_by, identified_at, signed_how, signed_lines, signature_sha256) VALUES "
            "(:store, :sale, 'card', '', '03', 'X', '', 'P1', '张三', '01', :cert, '1', '310', '', 0, '110000', '', '',"
            " :user, :at, '', '', '')"),
            {"store": shop.ctx.store_id, "sale": sale_id, "cert": WHOLE_ID, "user": user_id, "at": shop.ctx.now})


def test_stock_care_at_the_till(shop: Shop) -> None:
    """The pharmacist sells a box of the batch to be recalled, then destroys, recalls, inspects and pulls."""
    async def body() -> None:
        app = till(shop.settings, shop.live.base)
        async with app.run_test(size=SIZE) as pilot:
            await type_text(pilot, "u_pharmacist", "enter")
            await type_text(pilot, ROLE_PINS["pharmacist"], "enter")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen) and app.client.token is not None)
            sale = current(app, SaleScreen)
            await scan(pilot, BARCODE_BULK)
            await sale_settled(pilot, sale)
            await pay_cash(pilot, sale, "5")
            card_buyer(shop)
            await pilot.press("ctrl+b")
            await until(pilot, lambda: isinstance(app.screen, BackOfficeScreen))
            await pilot.pause()
            offered = message(app.screen, "#back-office-entries")
            assert all(entry in offered for entry in ("F8  报损销毁", "F9  召回", "F10  养护检查", "F11  近效期"))
            assert all(k.region.right <= SIZE[0] for k in app.screen.query(FooterKey) if k.display)
            await pilot.press("escape")
            await a_destruction_needs_its_method_and_two_other_witnesses(shop, pilot)
            await leave(pilot)
            await a_recall_stops_the_batch_and_lists_its_buyers_masked(shop, pilot)
            await leave(pilot)
            await the_month_s_upkeep_stops_a_doubt_and_clears_it_with_why(shop, pilot)
            await leave(pilot)
            await the_near_expiry_pull_list_per_zone(shop, pilot)
            assert isinstance(app.screen.query_one("#office-input"), Input)

    asyncio.run(body())
