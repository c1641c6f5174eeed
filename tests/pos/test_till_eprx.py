"""An electronic 外配处方 at the till (issue #23), against the real service and the sandbox's platform: the patient's
prescription code scanned at the sale (or typed into F4) downloads it, its drug goes on the sale and it is tied; the pharmacist
on duty approves it there (F5) and the review reaches the platform (7204); back at the sale it is paid."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import Engine, text

from pos.screens.prescription import PrescriptionScreen
from server.config import Settings
from server.db.uow import core_unit
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.sandbox.eprx_demo import HOSPITAL
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from tests.conftest import BARCODE_VITC, make_settings, mapping_approval, qualify_pharmacist
from tests.insurance.conftest import CODES, EMPLOYEE
from tests.pos.card_shop import headers, item_ids
from tests.pos.helpers import SIZE, current, log_in, message, pay_cash, popup, scan, settled, till, until
from tests.pos.live import LiveService
from tests.pos.test_till_rx import on_duty, title

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(db_url: str, sandbox_url: str) -> Settings:
    return make_settings(db_url, insurance={"url": sandbox_url, "timeout_seconds": 2})


def test_the_prescription_code_scanned_in_f4_downloads_ties_and_is_reviewed_and_uploaded(
        live: LiveService, sandbox: SandboxAdmin, settings: Settings, engine: Engine, ctx: Ctx) -> None:
    qualify_pharmacist(engine, ctx)
    approval, amox = mapping_approval(engine, ctx), item_ids(engine)["YP0001"]
    with core_unit(engine) as u:  # the platform names its drugs by their 医保 code: 阿莫西林's here (paid in cash)
        catalog_service.update_item(u, ctx, amox, {"nhsa_code": CODES["yi"], "insurance_category": "yi"}, approval)
    with httpx.Client(base_url=live.base, timeout=10) as http:
        r = http.put("/institutions", headers=headers(http, "manager"), json={"institutions": [
            {"code": HOSPITAL["code"], "name": HOSPITAL["name"], "doctors": HOSPITAL["doctors"]}]})
        assert r.status_code == 200, r.text
        r = http.post("/insurance/sign-in", json={}, headers=headers(http, "pharmacist", "T01"))
        assert r.status_code == 201, r.text
    issued = sandbox.issue_eprx(EMPLOYEE.psn_no, [{
        "med_list_codg": CODES["yi"], "drug_genname": "阿莫西林胶囊", "drug_cnt": 1, "sin_doscnt": "0.5",
        "sin_dosunt": "g", "used_frquname": "qid", "medc_way_dscr": "口服", "drug_dosform": "胶囊"}])

    later = sandbox.issue_eprx(EMPLOYEE.psn_no, [{
        "med_list_codg": CODES["yi"], "drug_genname": "阿莫西林胶囊", "drug_cnt": 1, "sin_doscnt": "0.5",
        "sin_dosunt": "g", "used_frquname": "qid", "medc_way_dscr": "口服", "drug_dosform": "胶囊"}], days_ago=1, valid_days=3)

    async def body() -> None:
        app = till(settings, live.base)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot, "pharmacist")
            await on_duty(pilot, sale)
            await scan(pilot, BARCODE_VITC)  # the sale open with an OTC line; the prescription brings its own drug
            await settled(pilot, sale)
            await scan(pilot, issued["qr"])  # the patient's code scanned at the sale: F4 opens and downloads it
            await until(pilot, lambda: isinstance(app.screen, PrescriptionScreen) and app.screen.step == "detail",
                        what="the prescription downloaded and tied")
            rx = current(app, PrescriptionScreen)
            assert issued["hi_rxno"] in title(rx) and "待审核" in title(rx) and "外配（医保）" in title(rx)
            assert "签名已验证" in message(rx, "#rx-message") and "F5 通过" in message(rx, "#rx-message")
            assert [ln["name"] for ln in rx.sale["lines"]] == ["维生素C片", "阿莫西林胶囊"]  # its drug on the sale
            await pilot.press("f5")
            await until(pilot, lambda: "审核通过" in title(rx), what="the approval")
            assert "审方已记录：通过" in message(rx, "#rx-message")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is sale, what="back to the sale")
            await settled(pilot, sale)
            done = await pay_cash(pilot, sale, "20")  # 3.50 + 12.50
            assert done["status"] == "completed" and done["prescription_id"] is not None
            # the next patient shows their 医保电子凭证 in F4: the platform lists what waits for them (7202)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            await pilot.press("f4")
            rx2: PrescriptionScreen = await popup(pilot, PrescriptionScreen)
            await scan(pilot, EMPLOYEE.ec_token)
            await until(pilot, lambda: bool(rx2.listed), what="the platform's list")
            # the first is still listed: its sale's report (7207) waits in the outbox, the worker off in tests
            listed = [x["hi_rxno"] for x in rx2.listed]
            assert sorted(listed) == sorted([issued["hi_rxno"], later["hi_rxno"]])
            assert "待取药的电子处方" in message(rx2, "#rx-message") and EMPLOYEE.ec_token not in message(rx2, "#rx-message")
            for _ in range(listed.index(later["hi_rxno"])):
                await pilot.press("down")
            await pilot.press("enter")
            await until(pilot, lambda: rx2.step == "detail", what="the listed prescription downloaded and tied")
            assert later["hi_rxno"] in title(rx2)

    asyncio.run(body())
    (held,) = [p for p in sandbox.eprx() if p["hi_rxno"] == issued["hi_rxno"]]
    assert held["reviews"][0]["verdict"] == "1"  # the review reached the platform
    with engine.connect() as conn:
        assert conn.execute(text("SELECT txn, state FROM upload_outbox WHERE txn = '7207'")).all() == [
            ("7207", "pending")]  # the sale's report waits for the uploads worker
