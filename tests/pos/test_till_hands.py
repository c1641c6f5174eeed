"""Change of hands at the till (#18), as people do it: Ctrl+S locks the till and the next cashier finds the same
open sale in the same shift (the till's), selling in their own name; a pharmacist types their username and PIN in
place at a cashier's till for a void, a return, a prescription's review and their own duty — the till saying at
once which post may, before any reason or line — and the service records both people. The walk-arounds at the
till (a wrong PIN, nobody authorising) leave nothing written."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from textual.widgets import DataTable, Input

from pos.screens.authorise import AuthoriseScreen
from pos.screens.login import LoginScreen
from pos.screens.prescription import PrescriptionScreen
from pos.screens.qty import QtyScreen
from pos.screens.returns import ReturnScreen
from pos.screens.void import VoidScreen
from server.config import Settings
from server.db.uow import core_unit
from server.roles import Role
from server.services.context import Ctx
from server.services.store.users import add_user
from tests.conftest import BARCODE_AMOX, BARCODE_MASK, BARCODE_VITC, ROLE_PINS, qualify_pharmacist
from tests.pos.card_shop import headers, item_ids
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
    scan,
    settled,
    status,
    till,
    type_text,
    until,
)

pytestmark = pytest.mark.slow


def user_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r.username: r.id for r in conn.execute(text("SELECT id, username FROM app_user"))}


async def authorise(pilot: Any, username: str, pin: str) -> AuthoriseScreen:
    dialog: AuthoriseScreen = await popup(pilot, AuthoriseScreen)
    await type_text(pilot, username, "enter")
    await type_text(pilot, pin, "enter")
    return dialog


def test_ctrl_s_locks_the_till_and_the_next_cashier_goes_on_with_the_same_sale_in_the_tills_shift(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        add_user(u, ctx, "u_cashier2", "第二收银员", "1212", {Role.CASHIER})

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            shift_id = open_shift(app)["id"]
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            sale_id, old_token = basket(sale)["id"], app.client.token
            await pilot.press("ctrl+s")
            lock: LoginScreen = await popup(pilot, LoginScreen)
            assert lock.locked and "已离开收款机" in message(lock, "#login-message")
            assert "未完成的销售和本班次已保留" in message(lock, "#login-message")
            assert "未登录" in status(app) and app.client.token is None
            async with httpx.AsyncClient(base_url=service) as http:  # the old session ended at the service
                gone = await http.get("/auth/me", headers={"Authorization": f"Bearer {old_token}"})
                assert gone.status_code == 401
            await type_text(pilot, "u_cashier2", "enter")
            await type_text(pilot, "1212", "enter")
            await until(pilot, lambda: app.screen is sale, what="the same sale screen")
            await settled(pilot, sale)
            assert sale.sale is not None and sale.sale["id"] == sale_id and app.sale_screen is sale
            shown = message(sale)
            assert "第二收银员 已登录" in shown and "继续未完成的销售（1 件）" in shown, shown
            assert f"本机班次 #{shift_id} 由 测试cashier 开班" in shown and "班次属于收款机" in shown, shown
            assert open_shift(app)["id"] == shift_id and "第二收银员" in status(app)
            await scan(pilot, BARCODE_MASK)
            await settled(pilot, sale)
            await pay_cash(pilot, sale, "20")

        ids = user_ids(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, opened_by, completed_by, shift_id FROM sale")).one()
        assert tuple(row) == ("completed", ids["u_cashier"], ids["u_cashier2"], shift_id)

    asyncio.run(body())


def test_the_same_cashier_unlocks_and_ctrl_s_with_no_sale_keeps_the_shift(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await pilot.press("ctrl+s")
            lock: LoginScreen = await popup(pilot, LoginScreen)
            assert "本班次继续" in message(lock, "#login-message")
            back = await log_in(pilot)
            assert back is sale and sale.sale is None and "测试cashier 已登录" in message(sale)
            assert "开班" not in message(sale)  # the shift is the cashier's own: nothing to say of it

    asyncio.run(body())


@pytest.mark.refuses("SEC-01")
def test_a_cashiers_void_is_authorised_by_the_pharmacist_in_place_a_wrong_pin_asked_again(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pilot.press("f8")  # at once: who may, before any reason
            dialog = await authorise(pilot, "u_pharmacist", "0000")
            assert "须由药师授权" in str(dialog.query_one("#authorise-title").render())
            await until(pilot, lambda: "PIN 错误" in message(dialog, "#authorise-message"), what="the wrong PIN")
            assert app.screen is dialog and app.focused is dialog.query_one("#auth-pin", Input)
            await type_text(pilot, ROLE_PINS["pharmacist"], "enter")
            void: VoidScreen = await popup(pilot, VoidScreen)
            assert "测试pharmacist 已授权" in str(void.query_one(".dialog-title").render())
            await type_text(pilot, "顾客不要了", "enter")
            await until(pilot, lambda: "已作废" in message(sale), what="the void")
            assert sale.sale is None

            await scan(pilot, BARCODE_VITC)  # nobody authorises: nothing is voided
            await settled(pilot, sale)
            await pilot.press("f8")
            await popup(pilot, AuthoriseScreen)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back")
            assert "未授权" in message(sale) and sale.sale is not None

        ids = user_ids(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, opened_by, voided_by FROM sale ORDER BY opened_at")).all()
            failed = conn.execute(text("SELECT COUNT(*) FROM audit_entry WHERE action = 'auth.login_failed'")).scalar()
        assert [tuple(r) for r in rows] == [("voided", ids["u_cashier"], ids["u_pharmacist"]),
                                            ("open", ids["u_cashier"], None)]
        assert failed == 1  # the wrong PIN counted towards the lockout

    asyncio.run(body())


async def sell(pilot: Any, sale: Any, *codes: str) -> str:
    for code in codes:
        await scan(pilot, code)
    await settled(pilot, sale)
    done = await pay_cash(pilot, sale, "100")
    return str(done["sale_no"])


@pytest.mark.refuses("SEC-01")
def test_a_cashiers_return_is_authorised_in_place_before_any_line_is_picked(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            sale_no = await sell(pilot, sale, BARCODE_MASK)
            await pilot.press("f11")
            ret: ReturnScreen = await popup(pilot, ReturnScreen)
            assert "退货须由药师授权" in message(ret, "#return-message")  # said at once
            await type_text(pilot, sale_no, "enter")
            await popup(pilot, AuthoriseScreen)  # before any line
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is ret, what="back to the receipt")
            assert "未授权" in message(ret, "#return-message") and not ret.query_one("#return-lines", DataTable).has_focus
            await pilot.press("space", "f2")  # no line is picked without the authorisation
            assert not ret.picked
            ret.query_one("#receipt", Input).focus()
            await pilot.press("enter")  # the receipt again: asked again
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await until(pilot, lambda: ret.query_one("#return-lines", DataTable).has_focus, what="the lines")
            assert "测试pharmacist 已授权退货" in message(ret, "#return-message")
            await pilot.press("space", "f2")
            await type_text(pilot, "包装破损", "enter")
            await until(pilot, lambda: ret.done is not None, what="the return")
            await pilot.press("escape")

        ids = user_ids(engine)
        with engine.connect() as conn:
            made = conn.execute(text("SELECT created_by, total_fen FROM sale_return")).all()
        assert [tuple(r) for r in made] == [(ids["u_pharmacist"], 990)]

    asyncio.run(body())


def paper(ids: dict[str, int], today: str) -> dict[str, Any]:
    return {"rx_no": "RX-H1", "institution_code": "H44030000001", "institution_name": "示范医院", "doctor_name": "周医生",
            "issued_on": today, "patient_name": "王五", "patient_sex": "男", "patient_age": 52, "diagnosis": "咽炎",
            "doctor_signed": True, "lines": [{"item_id": ids["YP0001"], "qty": 1, "dosage": "0.5g",
                                              "drug_name": "阿莫西林胶囊", "frequency": "tid", "route": "口服",
                                              "dosage_form": "胶囊"}]}


@pytest.mark.refuses("RX-10")
def test_at_a_cashiers_till_the_pharmacist_goes_on_duty_reviews_in_place_and_goes_off_duty(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    qualify_pharmacist(engine, ctx)
    with httpx.Client(base_url=service) as http:  # entered earlier by the cashier, awaiting review
        r = http.post("/prescriptions", headers=headers(http, "cashier", "T01"),
                      json=paper(item_ids(engine), ctx.today.isoformat()))
        assert r.status_code == 201, r.text

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_AMOX)
            await settled(pilot, sale)
            await pilot.press("f4")
            rx: PrescriptionScreen = await popup(pilot, PrescriptionScreen)
            await type_text(pilot, "王五", "enter")
            await until(pilot, lambda: len(rx.found) == 1, what="the prescription")
            await pilot.press("enter")
            await until(pilot, lambda: rx.step == "detail", what="tied")
            assert "在岗药师当场输入工号和 PIN" in message(rx, "#rx-message")
            await pilot.press("f5")  # the pharmacist is not on duty: RX-10, nothing approved
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await until(pilot, lambda: "RX-10" in message(rx, "#rx-message"), what="the RX-10 refusal")
            assert rx.rx is not None and rx.rx["status"] == "pending"
            await pilot.press("escape", "escape", "escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")

            await pilot.press("ctrl+g")  # Ctrl+G at a cashier's till: the pharmacist's own PIN
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await until(pilot, lambda: "在岗药师 测试pharmacist" in status(app), what="on duty")
            assert "测试pharmacist 已登记在岗" in message(sale)

            await pilot.press("f4")
            await until(pilot, lambda: isinstance(app.screen, PrescriptionScreen), what="F4")
            rx = current(app, PrescriptionScreen)
            await until(pilot, lambda: rx.step == "detail", what="the sale's prescription")
            await pilot.press("f5")  # on duty now: the pharmacist's PIN again, for this review
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await until(pilot, lambda: rx.rx is not None and rx.rx["status"] == "approved", what="the approval")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            await pay_cash(pilot, sale, "20")

            await pilot.press("ctrl+g")
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await until(pilot, lambda: "测试pharmacist 已离岗" in message(sale), what="off duty")
            assert "在岗药师 测试pharmacist" not in status(app)

        ids = user_ids(engine)
        with engine.connect() as conn:
            review = conn.execute(text("SELECT verdict, pharmacist_id FROM rx_review")).one()
            audit = conn.execute(text("SELECT user_id, after FROM audit_entry WHERE action = 'rx.approved'")).one()
        assert tuple(review) == ("approved", ids["u_pharmacist"])
        assert audit.user_id == ids["u_pharmacist"] and f'"till_user_id": {ids["u_cashier"]}' in str(audit.after)

    asyncio.run(body())


@pytest.mark.refuses("SEC-01")
def test_a_void_above_the_stores_amount_asks_the_second_person_in_the_same_dialog(
        service: str, settings: Settings, engine: Engine) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_BULK)
            await settled(pilot, sale)
            await pilot.press("f7")
            await popup(pilot, QtyScreen)
            await pilot.press("backspace")
            await type_text(pilot, "200", "enter")  # 240.00 元: above the store's 200.00
            await settled(pilot, sale)
            await pilot.press("f8")
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await popup(pilot, VoidScreen)
            await type_text(pilot, "整单取消", "enter")
            second = await popup(pilot, AuthoriseScreen)  # the service asked for a second person
            assert "须另一位有权人员复核" in str(second.query_one("#authorise-title").render())
            await type_text(pilot, "u_pharmacist", "enter")  # the authoriser again: not a second person
            await type_text(pilot, ROLE_PINS["pharmacist"], "enter")
            await until(pilot, lambda: app.screen is sale and "SEC-01" in message(sale), what="the refusal")
            assert sale.sale is not None  # nothing voided
            await pilot.press("f8")
            await authorise(pilot, "u_pharmacist", ROLE_PINS["pharmacist"])
            await popup(pilot, VoidScreen)
            await type_text(pilot, "整单取消", "enter")
            await authorise(pilot, "u_manager", ROLE_PINS["manager"])
            await until(pilot, lambda: "已作废" in message(sale), what="the void")

        ids = user_ids(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, total_fen, voided_by, void_confirmed_by FROM sale")).one()
        assert tuple(row) == ("voided", 24000, ids["u_pharmacist"], ids["u_manager"])

    asyncio.run(body())
