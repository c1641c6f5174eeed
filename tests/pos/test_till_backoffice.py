"""The back office at the till (后台, Ctrl+B; #19, #20, #21) at 80×24, keyboard only, against the in-process service:
the menu shows each post only what it may do; a delivery is scanned, inspected (合格 / 拒收 with a reason) and
approved by another person; a count is entered, submitted, and refused posting to the person who counted it, in
both languages, with nothing posted; the month's 进销存 runs under a progress bar with the keys live and is saved as
XLSX, the card statement handed in (ST-04) and refused a second time; the uploads' backlog is in the status
bar, a failed row is sent again by the 医保 administrator only, who also derives a refused row again once the
catalog is corrected and corrects a field the centre named (never a catalog fact typed in); a cashier is
offered none of it.

One service and one shop for the module, one till for the walk through it (a till test's service, a till and a login
each cost what the suite's budget cannot spare); the menu's rights per post are a unit test."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, text
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Static
from textual.widgets._footer import FooterKey

from catalog.codes import id_check_char, mask_id
from pos.client import ServiceError, TillClient
from pos.screens.backoffice import BackOfficeScreen, allowed
from pos.screens.checklist import ChecklistScreen, detail
from pos.screens.count import CountScreen
from pos.screens.login import LoginScreen
from pos.screens.month_end import MonthEndScreen
from pos.screens.office import OfficeScreen
from pos.screens.receiving import ReceivingScreen
from pos.screens.sale import SaleScreen
from pos.screens.uploads import UploadsScreen
from pos.state import TillState
from server.config import Settings
from server.db.engine import make_engine
from server.db.uow import core_unit
from server.permissions import actions_of
from server.roles import Role
from server.services import outbox
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from tests.conftest import BARCODE_VITC, ROLE_PINS, make_settings
from tests.pos.conftest import seed_till_shop
from tests.pos.helpers import current, log_in, message, popup, scan, status, till, till_of, type_text, until
from tests.pos.live import LiveService
from tests.pos.test_till_80x24 import unreadable

SIZE = (80, 24)


class Shop:
    def __init__(self, settings: Settings, engine: Engine, ctx: Ctx, live: LiveService, exports: Path) -> None:
        self.settings, self.engine, self.ctx, self.live, self.exports = settings, engine, ctx, live, exports

    def one(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).one()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Shop]:
    folder = tmp_path_factory.mktemp("office")
    shutil.copy(sqlite_template, folder / "dingdian.db")
    settings = make_settings(f"sqlite:///{folder / 'dingdian.db'}",
                             till={"code": "T01", "export_dir": str(folder / "exports")})
    engine = make_engine(settings.database.url)
    ctx = Ctx(bootstrap_store(engine, settings), settings)
    seed_till_shop(engine, ctx)
    live = LiveService(settings).start()
    with httpx.Client(base_url=live.base) as http:  # a supplier licensed and approved for the items (首营, GSP-05)
        token = http.post("/auth/login", json={"username": "u_manager", "pin": ROLE_PINS["manager"]}).json()["token"]
        mg = {"Authorization": f"Bearer {token}"}
        sup = http.post("/suppliers", headers=mg, json={
            "name": "国药控股北京", "licence_no": "京AA0000001", "scope": ["drugs"],
            "licence_expiry": (ctx.today + timedelta(days=365)).isoformat()}).json()["id"]
        assert http.post(f"/suppliers/{sup}/approve", headers=mg, json={"note": "首营资料齐全"}).status_code == 200
        vitc = http.get(f"/items/by-barcode/{BARCODE_VITC}", headers=mg).json()["id"]
        assert http.post(f"/suppliers/{sup}/items/{vitc}/approve", headers=mg, json={}).status_code == 201
    yield Shop(settings, engine, ctx, live, folder / "exports")
    live.stop()
    engine.dispose()


async def settled(pilot: Pilot[Any]) -> OfficeScreen:
    screen = current(pilot.app, OfficeScreen)
    await until(pilot, lambda: screen.busy == 0, what="the service's answer")
    await pilot.pause()
    return screen


async def open_office(pilot: Pilot[Any], key: str, kind: type[Any]) -> Any:
    await pilot.press("ctrl+b")
    await until(pilot, lambda: isinstance(pilot.app.screen, BackOfficeScreen), what="the back office")
    await pilot.press(key)
    screen = await popup(pilot, kind)
    await settled(pilot)
    return screen


async def leave(pilot: Pilot[Any]) -> None:
    while not isinstance(pilot.app.screen, SaleScreen):
        await pilot.press("escape")
        await pilot.pause()


async def hands(pilot: Pilot[Any], post: str) -> None:
    """Ctrl+S and another person logs in at the same till."""
    await pilot.press("ctrl+s")
    await popup(pilot, LoginScreen)
    await type_text(pilot, f"u_{post}", "enter")
    await type_text(pilot, ROLE_PINS[post], "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, SaleScreen) and till_of(pilot).client.token is not None,
                what=f"the sale screen for {post}")


def fits(screen: OfficeScreen) -> None:
    """80×24: the message whole, the input and every footer key inside the screen, the table given rows."""
    assert unreadable(screen.query_one("#office-message", Static)) in ("", "empty")
    assert screen.query_one("#office-input", Input).region.bottom <= SIZE[1] - 1
    assert screen.table.region.height >= 8
    assert screen.table.virtual_size.width <= SIZE[0], "the table's columns scroll sideways"
    assert all(k.region.right <= SIZE[0] for k in screen.query(FooterKey) if k.display)


def shown_keys(screen: Any) -> set[str]:
    return {k.key for k in screen.query(FooterKey) if k.display}


def test_the_menu_offers_each_post_what_the_service_lets_it_do() -> None:
    state = TillState(client=TillClient("http://unused"), store_name="", till_code="T01", tz=UTC)
    for post, entries in (("cashier", []),
                          ("pharmacist", ["receiving", "count", "transfer", "losses", "recall", "upkeep",
                                          "near_expiry"]),
                          ("manager", ["receiving", "count", "month_end", "uploads", "supplier_return", "transfer",
                                       "recall", "upkeep", "near_expiry", "checklist"]),
                          ("insurance_admin", ["month_end", "uploads", "checklist"]), ("sysadmin", [])):
        state.client.user = {"actions": actions_of(frozenset({Role(post)}))}  # what the login answers
        assert allowed(state) == entries, post


def test_a_checklist_item_s_reason_shows_no_whole_identity_number() -> None:
    """SEC-06 on the checklist screen: evidence quoted whole by the service would still be masked at the till."""
    whole = "11010519491231002" + id_check_char("11010519491231002")
    finding = {"no": 14, "verdict": "fail", "verdict_zh": "不合格", "summary_zh": f"小票存根含 {whole}", "count": 1,
               "evidence": [{"where": "print_job #3", "text": whole}], "countdowns": [], "missing": ""}
    said = detail(finding, ["pass", "fail"])
    assert whole not in said and mask_id(whole) in said and "合格 → 不合格" in said


async def a_delivery_is_scanned_inspected_and_approved_by_another_person(shop: Shop, pilot: Pilot[Any]) -> None:
    """The pharmacist logged in; the manager, at the end."""
    app: Any = pilot.app
    today = shop.ctx.today
    await pilot.press("ctrl+b")
    await until(pilot, lambda: isinstance(app.screen, BackOfficeScreen), what="the menu")
    await pilot.pause()
    menu = app.screen
    offered = message(menu, "#back-office-entries")
    assert "F2  收货验收" in offered and "F3  盘点" in offered
    assert "月结报表" not in offered and "上传与对账" not in offered  # no report, no recon
    assert shown_keys(menu) == {"f1", "escape"}  # the entries are the menu's body, the footer keeps 80 columns
    await pilot.press("f4")  # not offered: nothing opens
    assert app.screen is menu
    await pilot.press("f2")
    rec: ReceivingScreen = await popup(pilot, ReceivingScreen)
    await settled(pilot)
    assert "f9" not in shown_keys(rec)  # approval is the person in charge's (batch.write)
    await pilot.press("f3")
    await settled(pilot)
    assert "国药控股北京" in str(rec.table.get_row_at(0))
    await type_text(pilot, "", "enter")  # the supplier under the cursor
    await type_text(pilot, "SH-20261201", "enter")
    await type_text(pilot, "FP-0001", "enter")
    made, expires = (today - timedelta(days=30)).strftime("%Y%m%d"), (today + timedelta(days=700)).strftime("%Y%m%d")
    await scan(pilot, "4899999999992")  # a box the catalog does not know: said, and the field empty for the next scan
    await until(pilot, lambda: rec.busy == 0 and message(rec, "#office-message") != "", what="the unknown box refused")
    assert "4899999999992 对应的商品不存在" in message(rec, "#office-message")
    assert rec.field == -1 and rec.input.value == ""
    for lot in ("LT-GOOD", "LT-BAD"):
        await scan(pilot, BARCODE_VITC)
        await until(pilot, lambda: rec.field == 0, what="the item found by its barcode")
        await type_text(pilot, lot, "enter")
        await type_text(pilot, "2026-13-01", "enter")  # no such day: asked again, nothing lost
        assert "请输入生产日期" in message(rec, "#office-message") and rec.field == 1
        rec.input.value = ""
        await type_text(pilot, made, "enter")
        await type_text(pilot, expires, "enter")
        await type_text(pilot, "10", "enter")
        await type_text(pilot, "1.80", "enter")
        assert rec.input.value == "Z-OTC"  # the item's zone offered
        await pilot.press("enter")
    assert rec.table.row_count == 2
    fits(rec)
    await pilot.press("f2")
    await until(pilot, lambda: rec.step == "inspect", what="the receipt saved")
    await pilot.press("enter")  # line 1: 合格
    await pilot.press("f6")  # line 2: 拒收, with its reason
    await type_text(pilot, "批号与随货同行单不符", "enter")
    assert rec.table.get_row_at(1)[-2:] == ["Z-OTC", "拒收：批号与随…"]
    fits(rec)
    await pilot.press("f2")
    await until(pilot, lambda: rec.step == "list" and rec.busy == 0, what="the inspection")
    assert "待负责人批准" in message(rec, "#office-message")
    receipt = shop.one("SELECT id, status, dynt_no, purc_invo_no FROM receipt ORDER BY id DESC LIMIT 1")
    assert tuple(receipt[1:]) == ("inspected", "SH-20261201", "FP-0001")
    with shop.engine.connect() as conn:
        verdicts = conn.execute(text(f"SELECT outcome, reason FROM receipt_line WHERE receipt_id = {receipt[0]} "
                                     "ORDER BY line_no")).all()
    assert [tuple(v) for v in verdicts] == [("accepted", ""), ("rejected", "批号与随货同行单不符")]
    await leave(pilot)
    await hands(pilot, "manager")  # the person in charge, not the inspector, approves
    rec = await open_office(pilot, "f2", ReceivingScreen)
    assert "f3" not in shown_keys(rec) and "f9" in shown_keys(rec)
    await pilot.press("f9")
    await until(pilot, lambda: "已批准" in message(rec, "#office-message"), what="the approval")
    assert shop.one(f"SELECT status FROM receipt WHERE id = {receipt[0]}")[0] == "approved"
    assert shop.one(f"SELECT COUNT(*) FROM batch b JOIN receipt_line l ON l.batch_id = b.id "
                    f"WHERE l.receipt_id = {receipt[0]}")[0] == 1  # the rejected line: no batch


async def a_count_is_entered_and_submitted_and_its_counter_cannot_post_it(shop: Shop, pilot: Pilot[Any]) -> None:
    app: Any = pilot.app
    count: CountScreen = await open_office(pilot, "f3", CountScreen)
    await pilot.press("enter")  # the whole store
    await settled(pilot)
    assert count.step == "batch" and count.table.row_count >= 1, message(count, "#office-message")
    await type_text(pilot, "B-VITC-1", "enter")  # the batch's label scanned: 49 found of the book's 50
    await until(pilot, lambda: count.step == "qty")
    await type_text(pilot, "49", "enter")
    await until(pilot, lambda: count.step == "why", what="the variance's reason asked")
    await type_text(pilot, "破损未报", "enter")
    await settled(pilot)
    assert count.step == "batch", message(count, "#office-message")
    sheet_id = count.sheet["id"]  # type: ignore[index]
    rest = [(n, ln) for n, ln in enumerate(count.sheet["lines"]) if ln["counted_qty"] is None]  # type: ignore[index]
    n, line = rest[0]  # the row under the cursor, counted as the book says (in split units)
    count.table.move_cursor(row=n)
    await pilot.press("enter")
    await type_text(pilot, f"0+{line['book_qty']}", "enter")
    await settled(pilot)
    assert count.sheet["lines"][n]["variance"] == 0 and count.step == "batch"  # type: ignore[index]
    await app.client.call("POST", f"/counts/{sheet_id}/entries", json={"entries": [  # the others, at once
        {"batch_id": ln["batch_id"], "location": ln["location"], "loose": ln["book_qty"]} for _, ln in rest[1:]]})
    row = next(r for r in (count.table.get_row_at(n) for n in range(count.table.row_count)) if "B-VITC-1" in r)
    assert row[5:] == ["50", "49", "-1"]
    fits(count)
    await pilot.press("f2")
    await settled(pilot)
    assert (count.sheet or {}).get("status") == "submitted", message(count, "#office-message")
    await pilot.press("f9")  # the manager counted it: posting it is another person's
    await until(pilot, lambda: count.busy == 0 and "\n" in message(count, "#office-message"))
    said = message(count, "#office-message")
    assert "[SEC-01]" in said and said.split("\n")[1].isascii()  # Chinese, then the service's English
    fits(count)
    with pytest.raises(ServiceError) as other_path:  # the same person by the API: refused all the same
        await app.client.call("POST", f"/counts/{sheet_id}/post", json={"note": "", "reasons": {}})
    assert other_path.value.code == "SEC-01"
    assert shop.one(f"SELECT status FROM count_sheet WHERE id = {sheet_id}")[0] == "submitted"
    assert shop.one("SELECT COUNT(*) FROM stock_movement WHERE kind LIKE 'count%'")[0] == 0


async def the_month_s_report_runs_with_the_keys_live_and_is_saved(shop: Shop, pilot: Pilot[Any]) -> None:
    month: MonthEndScreen = await open_office(pilot, "f4", MonthEndScreen)
    assert "f5" not in shown_keys(month)  # nothing to save before a report is shown
    gate = asyncio.Event()
    real = month.calls.report

    async def slow(*args: Any) -> Any:  # a long report: held until the test lets it go
        await gate.wait()
        return await real(*args)

    month.calls.report = slow  # type: ignore[method-assign,assignment]  # held open: the test's own stand-in
    await pilot.press("f2")
    bar = month.query_one("#month-progress", ProgressBar)
    await until(pilot, lambda: bar.display, what="the progress bar")
    await type_text(pilot, "x")  # the till's keys stay live while it runs
    assert month.input.value.endswith("x") and month.running == "ledger"
    month.input.value = month.month
    gate.set()
    await until(pilot, lambda: month.kind == "ledger" and not bar.display, what="the report")
    rows = [month.table.get_row_at(n) for n in range(month.table.row_count)]
    assert rows[-1][0] == "合计" and all(r[-1] == "平" for r in rows)
    fits(month)
    await pilot.press("f5")
    await until(pilot, lambda: month.last_saved is not None, what="the XLSX saved")
    saved = month.last_saved
    assert saved is not None and saved.parent == shop.exports and saved.suffix == ".xlsx"
    assert saved.read_bytes()[:2] == b"PK"  # a zip: the service's XLSX as it made it
    await pilot.press("f3")  # the card statement of the same month: no card sale yet, its total alone
    await until(pilot, lambda: month.kind == "card" and month.running is None, what="the card statement")
    assert month.table.get_row_at(month.table.row_count - 1)[:2] == ["合计", "0"]
    assert "f5" in shown_keys(month) and "f6" not in shown_keys(month)  # the API offers no PDF of it
    # the person in charge hands the statement in (ST-04): the service keeps the file and its checksum
    await pilot.press("f7")
    await until(pilot, lambda: month.submitted is not None and month.running is None, what="the submission")
    done, said = month.submitted, message(month, "#office-message")
    assert done is not None and "已报送刷卡购药结算对账单" in said and "状态 已报送" in said and done["sha256"][:12] in said
    fits(month)
    row = shop.one("SELECT kind, status, sha256, size FROM report_submission")
    assert row == ("card_statement", "submitted", done["sha256"], done["size"]) and row[3] > 0
    # the same month handed in again is refused in both languages (a rejected one is resubmitted as its next
    # version): nothing more kept, the status shown stays the first's
    await pilot.press("f7")
    await until(pilot, lambda: month.running is None and message(month, "#office-message") != said
                and "正在报送" not in message(month, "#office-message"), what="the second submission's refusal")
    again = message(month, "#office-message")
    assert month.submitted is done and "已有报送记录" in again and "already has a submission" in again, again
    assert shop.one("SELECT COUNT(*) FROM report_submission")[0] == 1


async def the_checklist_shows_its_26_items_and_is_saved_as_a_pdf(shop: Shop, pilot: Pilot[Any]) -> None:
    """The manager's compliance checklist (#22) at 80×24: every item with the service's verdict, the row's reason
    below it, kept as the service's PDF."""
    checks: ChecklistScreen = await open_office(pilot, "f12", ChecklistScreen)
    await until(pilot, lambda: checks.table.row_count == 26, what="the checklist's items")
    rows = [checks.table.get_row_at(n) for n in range(26)]
    assert [r[0] for r in rows] == [str(n) for n in range(1, 27)]
    assert {r[2] for r in rows} <= {"合格", "不合格", "需人工确认"} and "需人工确认" in {r[2] for r in rows}
    fits(checks)
    await pilot.press("down")
    assert message(checks, "#office-message").startswith("2. ")
    assert {"f5", "f6"} <= shown_keys(checks)
    await pilot.press("f6")
    await until(pilot, lambda: "已保存" in message(checks, "#office-message"), what="the PDF saved")
    saved = sorted(shop.exports.glob("checklist-*.pdf"))
    assert len(saved) == 1 and saved[0].read_bytes()[:5] == b"%PDF-"


def failed_upload(shop: Shop) -> int:
    """An outbox row the transport failed three times, three hours ago."""
    ctx = shop.ctx
    with core_unit(shop.engine) as u:
        batch, item = u.connection().execute(text("SELECT id, item_id FROM batch LIMIT 1")).one()
        row_id = u.connection().execute(sa.insert(outbox.OUT).returning(outbox.OUT.c.id).values(
            store_id=ctx.store_id, key="test:failed:1", txn="3503", inv_chg_type="", inv_data_type="", movement_id=None,
            ref_type="", ref_id="", batch_id=batch, item_id=item, qty=1, amount_fen=100, business_date=ctx.today,
            created_at=ctx.now - timedelta(hours=3), after_id=None, replaces_id=None, state="failed", attempts=3,
            next_at=ctx.now + timedelta(hours=1), msgid="", payload={}, last_error="连接超时 timeout",
            centre_message="")).scalar_one()
    return int(row_id)


async def only_the_insurance_admin_sends_a_failed_row_again(shop: Shop, pilot: Pilot[Any], row_id: int) -> None:
    app: Any = pilot.app
    app._check_uploads()  # what the till's timer does every UPLOADS_SECONDS, in a worker
    await until(pilot, lambda: "上传待" in status(app) and "败1" in status(app), what="the backlog")
    up: UploadsScreen = await open_office(pilot, "f5", UploadsScreen)
    at = up.row_ids.index(row_id)
    assert "连接超时" in str(up.table.get_row_at(at)) and "今日没有医保结算需对账" in message(up, "#office-message")
    fits(up)
    up.table.move_cursor(row=at)
    await pilot.press("f5")  # the manager reads; sending again is the 医保 administrator's
    assert "重传须由" in message(up, "#office-message")
    await pilot.press("f8")
    assert "重新生成须由" in message(up, "#office-message")
    assert shop.one(f"SELECT state FROM upload_outbox WHERE id = {row_id}")[0] == "failed"
    await leave(pilot)
    await hands(pilot, "insurance_admin")
    up = await open_office(pilot, "f5", UploadsScreen)
    up.table.move_cursor(row=up.row_ids.index(row_id))
    await pilot.press("f5")
    await until(pilot, lambda: "已重新排队" in message(up, "#office-message"), what="the retry")
    assert shop.one(f"SELECT state FROM upload_outbox WHERE id = {row_id}")[0] == "pending"


def refused_uploads(shop: Shop) -> tuple[int, int]:
    """Two 3503 rows the centre refused: one for the maker the catalog lacks, one for an operator's name."""
    from server.db.uow import orm, read_unit
    from server.services.insurance import upload_rows

    ctx, ids = shop.ctx, []
    for n, why in enumerate(("prdr_name不能为空 / prdr_name is required",
                             "purc_retn_opter_name不能为空 / purc_retn_opter_name is required")):
        with core_unit(shop.engine) as u:
            batch, item = u.connection().execute(text(
                "SELECT b.id, b.item_id FROM batch b JOIN item i ON i.id = b.item_id WHERE i.code = 'YP0002' "
                "ORDER BY b.id LIMIT 1")).one()
            row_id = int(u.connection().execute(sa.insert(outbox.OUT).returning(outbox.OUT.c.id).values(
                store_id=ctx.store_id, key=f"test:refused:{n}", txn="3503", inv_chg_type="", inv_data_type="",
                movement_id=None, ref_type="", ref_id="", batch_id=batch, item_id=item, qty=2, amount_fen=360,
                business_date=ctx.today, created_at=ctx.now - timedelta(hours=1), after_id=None, replaces_id=None,
                state="rejected", attempts=1, next_at=ctx.now, msgid=f"H{n:029d}", payload={}, last_error="",
                centre_message=why)).scalar_one())
        with read_unit(shop.engine) as r:  # the row as it went out: the catalog names no maker
            payload = upload_rows.build(orm(r), ctx, outbox.row(r, ctx.store_id, row_id))
        with core_unit(shop.engine) as u:
            u.connection().execute(sa.update(outbox.OUT).where(outbox.OUT.c.id == row_id).values(payload=payload))
        ids.append(row_id)
    return ids[0], ids[1]


async def choose(pilot: Pilot[Any], up: UploadsScreen, row_id: int) -> None:
    """The cursor onto an outbox row by the keys (↑↓), as the administrator moves it."""
    target = up.row_ids.index(row_id)
    while up.row != target:
        await pilot.press("down" if up.row < target else "up")


async def a_refused_row_is_derived_again_and_corrected_by_the_administrator(shop: Shop, pilot: Pilot[Any],
                                                                             maker: int, named: int) -> None:
    from server.services.catalog.items import update_item

    up = current(pilot.app, UploadsScreen)
    await choose(pilot, up, maker)  # the centre's words whole, where the table cuts them
    assert "prdr_name不能为空 / prdr_name is required" in message(up, "#office-message")
    await pilot.press("f8")  # derived again before the catalog says more: the same row, refused
    await settled(pilot)
    assert "请先在目录中更正" in message(up, "#office-message")
    assert shop.one(f"SELECT state FROM upload_outbox WHERE id = {maker}")[0] == "rejected"
    with core_unit(shop.engine) as u:  # the maker entered in the catalog (its own screen's work)
        update_item(u, shop.ctx, shop.one("SELECT id FROM item WHERE code = 'YP0002'")[0], {"manufacturer": "华北制药"})
    await type_text(pilot, "目录补录生产厂家")
    await pilot.press("f8")
    await until(pilot, lambda: "已按目录重新生成" in message(up, "#office-message"), what="the row derived again")
    state, msgid, payload = shop.one(f"SELECT state, msgid, payload FROM upload_outbox WHERE id = {maker}")
    assert (state, msgid, json.loads(payload)["prdr_name"]) == ("pending", "", "华北制药")
    await choose(pilot, up, named)
    await type_text(pilot, "aprvno=国药准字X")
    await pilot.press("f9")  # a catalog fact typed into the row: refused, in both languages
    await settled(pilot)
    said = message(up, "#office-message")
    assert "目录" in said and "catalog" in said
    up.input.value = ""
    await type_text(pilot, "purc_retn_opter_name=王店长")
    await pilot.press("f9")
    await until(pilot, lambda: "已更正" in message(up, "#office-message"), what="the correction")
    state, payload = shop.one(f"SELECT state, payload FROM upload_outbox WHERE id = {named}")
    corrected = json.loads(payload)
    assert (state, corrected["purc_retn_opter_name"], corrected["aprvno"]) == ("pending", "王店长", "国药准字H2")
    fits(up)


async def a_cashier_is_offered_no_uploads(pilot: Pilot[Any]) -> None:
    """Ctrl+B at a cashier's sale: refused by name, no back office, no uploads screen."""
    await leave(pilot)
    await hands(pilot, "cashier")
    sale = current(pilot.app, SaleScreen)
    await pilot.press("ctrl+b")
    await until(pilot, lambda: "本岗位无权使用" in message(sale), what="the refusal")
    assert "上传对账由药师、店长或医保管理员办理" in message(sale)
    assert pilot.app.screen is sale


@pytest.mark.refuses("SEC-01", "ST-04")
def test_the_back_office_at_the_till(shop: Shop) -> None:
    """One till for all of it, hands changed as a store does (a till and a login cost what a test should not): the
    pharmacist receives, the manager approves, counts, runs the month and the checklist and sees the uploads; the 医保
    administrator sends a failed row again, derives a refused one again from the corrected catalog and corrects
    another; a cashier is offered none of it."""
    row_id = failed_upload(shop)
    maker, named = refused_uploads(shop)

    async def body() -> None:
        app = till(shop.settings, shop.live.base)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot, "pharmacist")
            await a_delivery_is_scanned_inspected_and_approved_by_another_person(shop, pilot)
            await leave(pilot)
            await a_count_is_entered_and_submitted_and_its_counter_cannot_post_it(shop, pilot)
            await leave(pilot)
            await the_month_s_report_runs_with_the_keys_live_and_is_saved(shop, pilot)
            await leave(pilot)
            await the_checklist_shows_its_26_items_and_is_saved_as_a_pdf(shop, pilot)
            await leave(pilot)
            await only_the_insurance_admin_sends_a_failed_row_again(shop, pilot, row_id)
            await a_refused_row_is_derived_again_and_corrected_by_the_administrator(shop, pilot, maker, named)
            await a_cashier_is_offered_no_uploads(pilot)

    asyncio.run(body())
