"""F4 处方 at the till against the real service: the pharmacist on duty enters the paper prescription for the
sale's Rx line (a missing signature refused with RX-02, nothing typed lost), approves it there, and the sale that
was refused RX-01 before is paid; prescriptions found by the patient are referred (the pharmacy named) and
rejected (a reason from RX-05's fixed list), and a referred one cannot be tied to the sale (RX-05)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from textual.widgets import Checkbox, DataTable, Input, OptionList

from pos.screens.prescription import PrescriptionScreen
from pos.widgets.rx_form import RxForm
from server.config import Settings
from server.services.context import Ctx
from tests.conftest import BARCODE_AMOX, qualify_pharmacist
from tests.pos.card_shop import headers, item_ids
from tests.pos.helpers import SIZE, log_in, message, pay_cash, popup, scan, settled, status, till, type_text, until

pytestmark = pytest.mark.slow


async def on_duty(pilot: Any, sale: Any) -> None:
    await pilot.press("ctrl+g")
    await settled(pilot, sale)
    await until(pilot, lambda: "在岗药师 测试pharmacist" in status(pilot.app), what="on duty")


def title(screen: Any) -> str:
    return str(screen.query_one("#rx-title").render())


def reviews(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT p.rx_no, p.status, r.verdict, r.reason, r.referred_to FROM rx_review r "
            "JOIN prescription p ON p.id = r.prescription_id ORDER BY r.id")).all())


@pytest.mark.refuses("RX-01", "RX-02")
def test_the_pharmacist_enters_and_approves_the_prescription_and_the_rx_sale_is_paid(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    qualify_pharmacist(engine, ctx)

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot, "pharmacist")
            await on_duty(pilot, sale)
            await scan(pilot, BARCODE_AMOX)
            await settled(pilot, sale)
            assert "处方药：须登记处方并经在岗药师审核，按 F4" in message(sale)  # said at once, before any money
            await pilot.press("f2")  # RX-01: no Rx line is paid before a pharmacist approved its prescription
            await settled(pilot, sale)
            assert app.screen is sale, "the payment is not offered"
            assert "不能收款" in message(sale) and "RX-01" in message(sale) and "F4" in message(sale), message(sale)

            await pilot.press("f4")
            rx: PrescriptionScreen = await popup(pilot, PrescriptionScreen)
            assert "阿莫西林胶囊×1" in message(rx, "#rx-message")
            await pilot.press("f2")  # F2 is 保存 here, never a blank form: nothing happens at the search
            await pilot.pause()
            assert rx.step == "home" and not rx.query(RxForm)
            await pilot.press("f3")
            await until(pilot, lambda: app.focused is not None and app.focused.id == "rx-rx_no", what="the form")
            for value in ("RX-2026-0001", "", "H44030000001", "示范医院", "李医生", "急性支气管炎", "张三", "", "1", "40"):
                await type_text(pilot, value, "enter")  # Enter goes field to field; the date is today's already
            lines = rx.query_one("#rx-lines", DataTable)
            # from the sale: the catalog's name and spec, the quantity; the name as written is the pharmacist's to type
            assert [str(c) for c in lines.get_row_at(0)][1:5] == ["阿莫西林胶囊", "0.25g*24粒", "", "1"]
            await pilot.press("enter", "enter", "enter", "enter")  # Enter goes past the boxes too, ticking none
            assert app.focused is not None and app.focused.id == "ln-drug_name"
            assert not any(box.value for box in rx.query(Checkbox))
            for value in ("阿莫西林胶囊", "", "0.5g", "tid", "口服", "胶囊"):  # the name as written; no days typed
                await type_text(pilot, value, "enter")
            await pilot.press("f2")
            await until(pilot, lambda: "RX-02" in message(rx, "#rx-message"), what="the RX-02 refusal")
            assert "医师签名" in message(rx, "#rx-message") and rx.step == "form"
            assert rx.query_one("#rx-patient_name", Input).value == "张三"  # nothing typed is lost
            signed = rx.query_one("#rx-doctor_signed", Checkbox)
            signed.focus()
            assert "✓" not in str(signed.render())
            await pilot.press("space")
            await pilot.pause()
            assert signed.value and "✓" in str(signed.render())  # ticked, visible without colour
            await pilot.press("f2")
            await until(pilot, lambda: rx.step == "detail", what="the prescription saved and tied")
            assert "RX-2026-0001" in title(rx) and "待审核" in title(rx) and "F5 通过" in message(rx, "#rx-message")
            await pilot.press("f5")
            await until(pilot, lambda: "审核通过" in title(rx), what="the approval")
            await pilot.press("escape")  # approved and tied: Esc is back at the sale, where F2 pays
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            assert "已关联处方" in message(sale)
            done = await pay_cash(pilot, sale, "20")
            assert done["status"] == "completed" and done["prescription_id"] is not None

        assert [tuple(r) for r in reviews(engine)] == [("RX-2026-0001", "approved", "approved", "", "")]
        with engine.connect() as conn:
            line = conn.execute(text("SELECT drug_name, days, dosage, frequency, route, dosage_form, qty "
                                     "FROM prescription_line")).one()
        assert tuple(line) == ("阿莫西林胶囊", 4, "0.5g", "tid", "口服", "胶囊", 1)  # 24 capsules, 6 a day: 4 days

    asyncio.run(body())


def paper(ids: dict[str, int], rx_no: str, doctor: str, drug_name: str = "阿莫西林胶囊") -> dict[str, Any]:
    return {"rx_no": rx_no, "institution_code": "H44030000001", "institution_name": "示范医院", "doctor_name": doctor,
            "issued_on": None, "patient_name": "王五", "patient_sex": "男", "patient_age": 52, "diagnosis": "咽炎",
            "doctor_signed": True, "lines": [{"item_id": ids["YP0001"], "qty": 1, "dosage": "0.5g", "drug_name": drug_name,
                                              "frequency": "tid", "route": "口服", "dosage_form": "胶囊"}]}


@pytest.mark.refuses("RX-05")
def test_prescriptions_found_by_patient_are_referred_and_rejected_and_rx05_refuses_the_referred_one(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    qualify_pharmacist(engine, ctx)
    ids = item_ids(engine)
    with httpx.Client(base_url=service) as http:  # entered earlier by the cashier, awaiting review
        h = headers(http, "cashier", "T01")
        for rx_no, doctor in (("RX-A", "周医生"), ("RX-B", "吴医生")):  # two doctors: not a split prescription (RX-07)
            r = http.post("/prescriptions", headers=h, json=paper(ids, rx_no, doctor) | {"issued_on": ctx.today.isoformat()})
            assert r.status_code == 201, r.text

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot, "pharmacist")
            await on_duty(pilot, sale)
            await scan(pilot, BARCODE_AMOX)
            await settled(pilot, sale)
            await pilot.press("f4")
            rx: PrescriptionScreen = await popup(pilot, PrescriptionScreen)
            await type_text(pilot, "王五", "enter")
            await until(pilot, lambda: len(rx.found) == 2, what="the patient's prescriptions")
            assert [p["rx_no"] for p in rx.found] == ["RX-B", "RX-A"]  # the newest first
            await pilot.press("enter")  # tie RX-B
            await until(pilot, lambda: rx.step == "detail" and "RX-B" in title(rx), what="RX-B")
            await pilot.press("f7")  # refer: 缺货 offered first, then the pharmacy named
            await until(pilot, lambda: rx.step == "reason", what="the reasons")
            reasons = rx.query_one("#rx-reasons", OptionList)
            assert reasons.option_count == 7 and reasons.highlighted is not None
            assert rx.reasons[reasons.highlighted]["code"] == "out_of_stock"
            await pilot.press("enter")
            await until(pilot, lambda: app.focused is not None and app.focused.id == "rx-referred", what="the pharmacy")
            await type_text(pilot, "康民大药房", "enter")
            await until(pilot, lambda: "已转介" in title(rx), what="the referral")

            await pilot.press("escape")  # back to the search, the patient typed again
            await until(pilot, lambda: rx.step == "home", what="home")
            await pilot.press("enter")
            await until(pilot, lambda: bool(rx.found) and app.focused is None, what="the list again")
            await pilot.press("enter")  # RX-B again: referred, it cannot be dispensed here
            await until(pilot, lambda: "RX-05" in message(rx, "#rx-message"), what="the RX-05 refusal")
            await pilot.press("down", "enter")  # RX-A
            await until(pilot, lambda: rx.step == "detail" and "RX-A" in title(rx), what="RX-A")
            await pilot.press("f6")
            await until(pilot, lambda: rx.step == "reason", what="the reasons")
            await pilot.press("down", "enter")  # 剂量疑义
            await until(pilot, lambda: "已拒绝" in title(rx), what="the rejection")
            assert "剂量疑义" in str(rx.query_one("#rx-table", DataTable).get_row_at(1)[1])

        assert [tuple(r) for r in reviews(engine)] == [("RX-B", "referred", "referred", "out_of_stock", "康民大药房"),
                                                       ("RX-A", "rejected", "rejected", "dose", "")]

    asyncio.run(body())


@pytest.mark.refuses("RX-04", "RX-05")
def test_the_pharmacist_sees_the_written_name_beside_the_generic_name_and_an_out_of_stock_refusal_names_the_pharmacy(
        service: str, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    """A paper prescription written for 头孢氨苄胶囊 tied to amoxicillin: shown ≠ at the till, F5 refused (RX-04);
    rejected for 缺货, the till asks for the other designated pharmacy before it sends the refusal (RX-05)."""
    qualify_pharmacist(engine, ctx)
    ids = item_ids(engine)
    with httpx.Client(base_url=service) as http:
        r = http.post("/prescriptions", headers=headers(http, "cashier", "T01"),
                      json=paper(ids, "RX-C", "郑医生", "头孢氨苄胶囊") | {"issued_on": ctx.today.isoformat()})
        assert r.status_code == 201, r.text

    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot, "pharmacist")
            await on_duty(pilot, sale)
            await scan(pilot, BARCODE_AMOX)
            await settled(pilot, sale)
            await pilot.press("f4")
            rx: PrescriptionScreen = await popup(pilot, PrescriptionScreen)
            await type_text(pilot, "王五", "enter")
            await until(pilot, lambda: len(rx.found) == 1, what="the patient's prescription")
            await pilot.press("enter")
            await until(pilot, lambda: rx.step == "detail" and "RX-C" in title(rx), what="RX-C")
            row = [str(c) for c in rx.query_one("#rx-table", DataTable).get_row_at(0)]
            assert row[1:3] == ["头孢氨苄胶囊", "≠ 阿莫西林胶囊"]
            assert "RX-04" in message(rx, "#rx-message")
            await pilot.press("f5")
            await until(pilot, lambda: "RX-04" in message(rx, "#rx-message") and "通用名不符" in message(rx, "#rx-message")
                        and not rx.busy, what="the RX-04 refusal")
            assert "待审核" in title(rx)
            await pilot.press("f6")
            await until(pilot, lambda: rx.step == "reason", what="the reasons")
            out_of_stock = [r["code"] for r in rx.reasons].index("out_of_stock")
            await pilot.press(*["down"] * out_of_stock, "enter")
            await until(pilot, lambda: app.focused is not None and app.focused.id == "rx-referred", what="the pharmacy")
            await type_text(pilot, "康民大药房", "enter")
            await until(pilot, lambda: "已拒绝" in title(rx), what="the rejection")

        assert [tuple(r) for r in reviews(engine)] == [("RX-C", "rejected", "rejected", "out_of_stock", "康民大药房")]

    asyncio.run(body())
