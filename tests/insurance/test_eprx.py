"""Electronic 外配处方 from the insurance platform (issue #23), through the service's API against the sandbox's
platform over real HTTP: the patient's code scanned, the prescription downloaded and kept as received, reviewed by
the pharmacist on duty (uploaded, 7204), dispensed and settled, the sale reported (7207) through the outbox and
cancelled (7208) on the return — and each way someone might try around it: another person's card, a prescription
held or dispensed elsewhere, an expired one, a tampered download, the platform away, a crash before the report."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import qrcode
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col
from typer.testing import CliRunner

from devices.printer.documents import QrSheet, from_json
from devices.printer.render import escpos_bytes, preview
from server.audit import verify
from server.config import Settings
from server.db.models import CardSettlement, EprxDownload, EprxReviewUpload, Prescription, PrintJob
from server.db.uow import core_unit, read_session, read_unit
from server.insurance import eprx, eprx_rest, wire
from server.insurance import uploads as wire_uploads
from server.insurance.eprx_rest import RestGateway
from server.insurance.errors import CentreRefused
from server.insurance.factory import make_gateway
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox import eprx as eprx_sandbox
from server.insurance.sandbox import eprx_rest as eprx_rest_sandbox
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.sandbox.eprx_demo import DEMO_CODES, HOSPITAL
from server.services import outbox
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.insurance import uploads
from tests.conftest import (
    BARCODE_AMOX,
    CONFIRM_MAPPING,
    ROLE_PINS,
    CardShop,
    Clock,
    add_role_users,
    by_second_admin,
    login,
    make_settings,
    mapping_approval,
    pharmacist_on_duty,
    seed_shop,
    service_gateway,
    service_state,
    till_login,
)
from tests.insurance.conftest import CODES, ELDER, EMPLOYEE, RESIDENT, RETIREE
from tests.insurance.test_card_sale import identify, sale_with, settle
from tests.server.test_duty_cli import _config
from tests.server.test_selling import pay_cash
from tests.tamper import behind_the_guard

AMOX = {"med_list_codg": CODES["yi"], "drug_genname": "阿莫西林胶囊", "drug_cnt": 1, "sin_doscnt": "0.5",
        "sin_dosunt": "g", "used_frquname": "qid", "medc_way_dscr": "口服", "drug_dosform": "胶囊"}


class EShop(CardShop):
    """The module's card shop, with its engine and settings."""

    engine: Engine
    settings: Settings


@pytest.fixture(scope="module")
def eshop(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, sandbox_url: str) -> Iterator[EShop]:
    """One card shop for the module (CI's budget): items and stock, users per post, the cashier and pharmacist at
    T01 with its shift open, an active agreement, 甲/乙 mappings uploaded, the cashier signed in (9001), and the
    platform's demo hospital with its doctors in the registry (RX-02). Each test works on its own prescriptions
    and sales, and reads the sandbox by them; each issues its prescriptions to its own person, doctor or day, so
    that the store does not take two tests' for one split prescription (RX-07)."""
    from server.app import create_app

    path = tmp_path_factory.mktemp("eprx") / "dingdian.db"
    shutil.copy(sqlite_template, path)
    settings = make_settings(f"sqlite:///{path}", insurance={"url": sandbox_url, "timeout_seconds": 2})
    sandbox = SandboxAdmin(sandbox_url)
    sandbox.reset()
    app = create_app(settings)
    with TestClient(app) as c:
        state = app.state.dingdian
        engine, ctx, clock = state.engine, Ctx(state.store_id, settings), Clock(settings.store.tz, None)
        items = seed_shop(engine, ctx)
        add_role_users(engine, ctx)
        cashier = till_login(c, "u_cashier", ROLE_PINS["cashier"])
        pharmacist = till_login(c, "u_pharmacist", ROLE_PINS["pharmacist"])
        manager = login(c, "u_manager", ROLE_PINS["manager"])
        shift = c.post("/shifts", json={"float_fen": 20000}, headers=cashier)
        assert shift.status_code == 201, shift.text
        admin = login(c, "u_insurance_admin", ROLE_PINS["insurance_admin"])
        today = clock.today
        assert c.post("/store/agreement-events", json={
            "status": "active", "effective_on": (today - timedelta(days=30)).isoformat(),
            "ends_on": (today + timedelta(days=300)).isoformat(), "agreement_no": "YB-2026-001"},
            headers=admin).status_code == 201
        assert c.patch("/store", json={"drug_licence_no": "粤AA0001",
                                       "drug_licence_expiry": (today + timedelta(days=900)).isoformat()},
                       headers=manager).status_code == 200
        approval = mapping_approval(engine, ctx)
        with core_unit(engine) as u:
            catalog_service.update_item(u, ctx, items["amox"], {"nhsa_code": CODES["yi"], "insurance_category": "yi"},
                                        approval)
        assert c.post("/items/mapping-uploaded", json={"item_ids": [items["amox"]],
                                                       "reason": CONFIRM_MAPPING["reason"]},
                      headers=by_second_admin(c, admin, "mapping.write")).status_code == 200
        assert c.post("/insurance/sign-in", json={}, headers=cashier).status_code == 201
        assert c.put("/institutions", json={"institutions": [
            {"code": HOSPITAL["code"], "name": HOSPITAL["name"], "doctors": HOSPITAL["doctors"]}]},
            headers=manager).status_code == 200
        shop: EShop = {"client": c, "items": items, "cashier": cashier, "pharmacist": pharmacist,
                       "manager": manager, "admin": admin, "clock": clock, "sandbox": sandbox, "engine": engine,
                       "settings": settings, "shift_id": shift.json()["id"]}
        pharmacist_on_duty(shop)
        yield shop
    engine.dispose()
    sandbox.close()


def scan(shop: EShop, qr: str) -> Any:
    return shop["client"].post("/eprx/download", json={"qr": qr}, headers=shop["cashier"])


def approve(shop: EShop, rx_id: int, **body: Any) -> Any:
    return shop["client"].post(f"/eprx/prescriptions/{rx_id}/review", json={"verdict": "approved"} | body,
                               headers=shop["pharmacist"])


def ctx_of(shop: EShop) -> Ctx:
    state = service_state(shop["client"])
    return Ctx(state.store_id, state.settings)


def drain(shop: EShop, later: timedelta = timedelta(0)) -> uploads.Sent:
    state, now, gateway = service_state(shop["client"]), shop["clock"].now, service_gateway(shop["client"])
    assert isinstance(gateway, HttpGateway)  # the outbox's sender speaks the centre's envelope
    return uploads.drain(state.engine, ctx_of(shop), gateway, clock=lambda: now + later)


def platform_rows(engine: Engine, sale_id: str) -> list[Any]:
    """The outbox's rows of the platform's reports of one sale (its report, its cancellation)."""
    with core_unit(engine) as u:
        return list(u.connection().execute(outbox.OUT.select().where(
            col(outbox.OUT.c.txn).in_(eprx.PLATFORM_TXNS), col(outbox.OUT.c.key).startswith(f"e{sale_id}"))
            .order_by(outbox.OUT.c.id)))


def setl_id_of(sale: dict[str, Any]) -> str:
    return str(next(t["reference"] for t in sale["tenders"] if t["kind"] == "insurance"))


def on_platform(shop: EShop, hi_rxno: str) -> dict[str, Any]:
    (found,) = [p for p in shop["sandbox"].eprx() if p["hi_rxno"] == hi_rxno]
    return found


def counts(engine: Engine) -> tuple[int, int, int, int]:
    with read_session(engine) as s:
        return tuple(int(s.execute(select(func.count()).select_from(t)).scalar_one())  # type: ignore[return-value]
                     for t in (Prescription, EprxDownload, EprxReviewUpload, CardSettlement))


def ready(shop: EShop, person: Any = EMPLOYEE, **issue: Any) -> tuple[str, dict[str, Any]]:
    """A prescription issued to `person`, downloaded and approved, tied to a sale of its box: the sale's id, the
    prescription."""
    code = shop["sandbox"].issue_eprx(person.psn_no, [AMOX], **issue)["qr"]
    got = scan(shop, code)
    assert got.status_code == 201, got.text
    rx = got.json()["prescription"]
    assert approve(shop, rx["id"]).status_code == 200
    sid = sale_with(shop, (BARCODE_AMOX, 1))
    tied = shop["client"].post(f"/sales/{sid}/prescription", json={"prescription_id": rx["id"]},
                               headers=shop["cashier"])
    assert tied.status_code == 200, tied.text
    return sid, rx


def rest_gateway(shop: EShop) -> RestGateway:
    """The store's gateway as the factory builds it for [eprx] generation "rest"."""
    settings = shop["settings"]
    rest = make_settings(settings.database.url, insurance={"url": settings.insurance.url, "timeout_seconds": 2},
                         eprx={"generation": "rest"})
    gw = make_gateway(rest, shop["engine"], ctx_of(shop).store_id)
    assert isinstance(gw, RestGateway)
    return gw


def traced(shop: EShop, item_id: int, on: bool) -> None:
    with core_unit(shop["engine"]) as u:
        catalog_service.update_item(u, ctx_of(shop), item_id, {"traced": on})


@pytest.fixture(params=["7xxx", "rest"])
def generation(request: pytest.FixtureRequest, eshop: EShop, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The platform's generation the store's gateway speaks (the use cases do not know which)."""
    if request.param == "rest":
        gw = rest_gateway(eshop)
        monkeypatch.setattr(eshop["client"].app.state, "insurance", gw)  # type: ignore[attr-defined]
        yield request.param
        gw.close()
    else:
        yield request.param


@pytest.mark.refuses("RX-01")
def test_scanned_reviewed_dispensed_settled_reported_and_cancelled_on_return(eshop: EShop, generation: str,
                                                                              request: pytest.FixtureRequest) -> None:
    engine = eshop["engine"]
    c, sandbox = eshop["client"], eshop["sandbox"]
    # each generation's its own day, so the store does not take the two for one split prescription (RX-07)
    issued = sandbox.issue_eprx(EMPLOYEE.psn_no, [AMOX], **({"days_ago": 2, "valid_days": 3}
                                                           if generation == "rest" else {}))
    got = scan(eshop, issued["qr"])
    assert got.status_code == 201, got.text
    body = got.json()
    rx = body["prescription"]
    assert (body["new"], rx["source"], rx["for_insurance"], rx["status"]) == (True, "electronic", True, "pending")
    assert body["platform"]["sign_verified"] and body["platform"]["hi_rxno"] == issued["hi_rxno"]
    assert rx["patient_name"] == EMPLOYEE.name and rx["lines"][0]["qty"] == 1
    again = scan(eshop, issued["qr"])  # scanned twice: the one on file
    assert (again.json()["new"], again.json()["prescription"]["id"]) == (False, rx["id"])
    # the box's trace code scanned, as every traced drug's is: the platform's report carries it (reference §8)
    amox, code = eshop["items"]["amox"], "8" + "0" * 18 + ("1" if generation == "7xxx" else "2")
    traced(eshop, amox, True)
    request.addfinalizer(lambda: traced(eshop, amox, False))  # the module's other tests sell it untraced
    sid = sale_with(eshop, (BARCODE_AMOX, 1))
    (line,) = c.get(f"/sales/{sid}", headers=eshop["cashier"]).json()["lines"]
    assert c.post(f"/sales/{sid}/lines/{line['id']}/trace-codes", json={"code": code},
                  headers=eshop["cashier"]).status_code == 201
    # dispensing before the pharmacist's review: refused (RX-01), and nothing settled
    assert c.post(f"/sales/{sid}/prescription", json={"prescription_id": rx["id"]},
                  headers=eshop["cashier"]).status_code == 200
    identify(eshop, sid)
    early = settle(eshop, sid, 0)
    assert early.status_code == 422 and early.json()["code"] == "RX-01", early.text
    reviewed = approve(eshop, rx["id"])
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["platform"]["review_uploaded"] and reviewed.json()["upload_error"] is None
    held = on_platform(eshop, issued["hi_rxno"])
    assert held["reviews"][0]["verdict"] == "1" and held["pharmacy"] == eshop["settings"].store.fixmedins_code
    preview = c.post(f"/sales/{sid}/card/preview", json={}, headers=eshop["cashier"])
    assert preview.status_code == 200, preview.text
    done = settle(eshop, sid, preview.json()["due_otherwise_fen"])
    assert done.status_code == 200, done.text
    (settled,) = [r for r in sandbox.settlements() if r["setl_id"] == setl_id_of(done.json())]
    two102 = sandbox.deliveries(msgid=settled["msgid"])[0]["body"]
    assert rx["rx_no"] == issued["hi_rxno"] and f'"rxno":"{rx["rx_no"]}"' in two102  # the settlement carries it
    (report,) = platform_rows(engine, sid)
    assert (report.txn, report.state, report.payload["data"]["setl_id"]) == ("7207", "pending", settled["setl_id"])
    assert [(x["trdn_flag"], x["drugtracinfo"]) for x in report.payload["selinfo"]] == [
        ("0", [{"drug_trac_codg": code}])]
    drain(eshop)
    (sold,) = on_platform(eshop, issued["hi_rxno"])["sales"]
    assert (sold["infno"], sold["setl_id"], sold["cancelled_by"]) == ("7207", settled["setl_id"], None)
    # the return cancels the settlement (2103) and the platform's report (7208)
    assert c.post("/insurance/sign-in", json={}, headers=eshop["pharmacist"]).status_code == 201
    return_id = "b5f0c7e2-6a8e-4d7e-9a59-2f1c0e2d7a1" + ("1" if generation == "7xxx" else "2")
    back = c.post(f"/sales/{sid}/card/cancel", json={"return_id": return_id, "reason": "患者退药"},
                  headers=eshop["pharmacist"])
    assert back.status_code == 201, back.text
    assert [r.txn for r in platform_rows(engine, sid)] == ["7207", "7208"]
    drain(eshop)
    (sold,) = on_platform(eshop, issued["hi_rxno"])["sales"]
    assert sold["cancelled_by"]
    with read_unit(engine) as r:  # the platform's reports are no 进销存 fact the centre's completeness counts
        day = eshop["clock"].today
        assert not {t for _, t in uploads.ours(r, ctx_of(eshop).store_id, day, day)} & set(eprx.PLATFORM_TXNS)
    view = c.get(f"/eprx/prescriptions/{rx['id']}", headers=eshop["cashier"]).json()
    assert [(r["txn"], r["state"]) for r in view["reports"]] == [("7207", "accepted"), ("7208", "accepted")]
    with read_session(engine) as s:  # the download and the review upload are imaged in the audit chain, as written
        report = verify(s, ctx_of(eshop).store_id)
        assert report.ok, report.problems
    rest = [d for d in sandbox.deliveries() if '"via":"rest"' in d["body"] and issued["hi_rxno"] in d["answer"]
            + d["body"]]
    if generation == "rest":  # 7203 download, 7204 review, 7207 and 7208 went by the REST centre
        assert {d["infno"] for d in rest} >= {"7203", "7204", "7207", "7208"}, rest
    else:
        assert not rest


@pytest.mark.refuses("RX-03")
def test_rx03_another_persons_card_is_refused_on_every_path(eshop: EShop) -> None:
    engine = eshop["engine"]
    c, h = eshop["client"], eshop["cashier"]
    sid, _ = ready(eshop, doctor=1)
    before, settled = counts(engine), len(eshop["sandbox"].settlements())
    identify(eshop, sid, card_no=RETIREE.card_no, card_sn=RETIREE.card_sn)
    for path in ("preview", "settle"):
        r = c.post(f"/sales/{sid}/card/{path}", json={"tenders": []} if path == "settle" else {}, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "RX-03", r.text
    # suspended and resumed, identified again by the other person's 医保电子凭证: still refused
    assert c.post(f"/sales/{sid}/suspend", json={}, headers=h).status_code == 200
    assert c.post(f"/sales/{sid}/resume", json={}, headers=h).status_code == 200
    assert identify(eshop, sid, method="voucher", token=RETIREE.ec_token, card_no="", card_sn="").status_code == 200
    r = c.post(f"/sales/{sid}/card/settle", json={"tenders": []}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "RX-03", r.text
    assert counts(engine) == before and len(eshop["sandbox"].settlements()) == settled
    assert not platform_rows(engine, sid)


def other_pharmacy(settings: Any, engine: Engine, ctx: Ctx) -> tuple[Any, Caller]:
    """Another designated pharmacy on the same platform, signed in."""
    other = make_settings(settings.database.url, insurance={"url": settings.insurance.url},
                          store={**settings.store.model_dump(), "fixmedins_code": "P44030099999"})
    gw = make_gateway(other, engine, ctx.store_id)
    signed = gw.sign_in(Caller("other1", "别家药师"), "00:00:00:00:00:01", "127.0.0.2")
    return gw, Caller("other1", "别家药师", signed.sign_no)


def test_a_prescription_held_or_dispensed_elsewhere_is_refused_and_nothing_is_written(eshop: EShop) -> None:
    engine, settings = eshop["engine"], eshop["settings"]
    issued = eshop["sandbox"].issue_eprx(EMPLOYEE.psn_no, [AMOX])
    gw, caller = other_pharmacy(settings, engine, ctx_of(eshop))
    token = eprx.decode(gw, caller, issued["qr"]).epc_token
    assert eprx.verify(eprx.download(gw, caller, epc_token=token).output, settings.eprx.platform_public_key)
    sn, _ = eprx.upload_review(gw, caller, {"hi_rxno": issued["hi_rxno"], "rx_chk_stas_codg": "1",
                                            "rx_chk_time": "2026-01-01 10:00:00", "phar_name": "别家药师",
                                            "phar_prac_cert_no": "ZY-9"})
    before = counts(engine)
    held = scan(eshop, issued["qr"])
    assert held.status_code == 422 and held.json()["code"] == "EPRX-REFUSED" and "其他定点药店" in held.json()["message_zh"]
    sale = {"data": {"hi_rxno": issued["hi_rxno"], "rx_chk_biz_sn": sn, "medins_sale_sn": "S1",
                     "sel_time": "2026-01-01 10:05:00"}, "selinfo": [{"med_list_codg": CODES["yi"], "sel_cnt": "1"}]}
    assert wire_uploads.send(gw, caller, "7207", sale, gw.new_msgid()).accepted
    dispensed = scan(eshop, issued["qr"])  # dispensed in full elsewhere: refused here too
    assert dispensed.status_code == 422 and "已取药" in dispensed.json()["message_zh"]
    assert counts(engine) == before
    gw.close()


@pytest.mark.refuses("RX-07")
def test_rx07_an_expired_prescription_or_code_is_refused(eshop: EShop) -> None:
    engine = eshop["engine"]
    sandbox = eshop["sandbox"]
    before = counts(engine)
    stale_code = sandbox.issue_eprx(EMPLOYEE.psn_no, [AMOX], code_hours=-1)["qr"]
    r = scan(eshop, stale_code)
    assert r.status_code == 422 and "过期" in r.json()["message_zh"], r.text
    # the code still scans, but the prescription was issued three days ago, valid one day: the store refuses it
    old = sandbox.issue_eprx(EMPLOYEE.psn_no, [AMOX], days_ago=3, valid_days=1)["qr"]
    r = scan(eshop, old)
    assert r.status_code == 422 and r.json()["code"] == "RX-07", r.text
    assert counts(engine) == before


@pytest.mark.refuses("ST-02")
def test_a_tampered_download_is_refused_and_kept_out(eshop: EShop) -> None:
    engine = eshop["engine"]
    sandbox = eshop["sandbox"]
    code = sandbox.issue_eprx(RETIREE.psn_no, [AMOX])["qr"]
    before = counts(engine)
    sandbox.tamper_eprx(1)  # the quantity changed after the platform signed it
    r = scan(eshop, code)
    assert r.status_code == 422 and r.json()["code"] == "EPRX-SIGN", r.text
    assert counts(engine) == before
    clean = scan(eshop, code)  # downloaded again untouched: taken, its signature verified, kept as received
    assert clean.status_code == 201 and clean.json()["platform"]["sign_verified"]
    with read_session(engine) as s:
        (kept,) = s.execute(select(EprxDownload).where(
            EprxDownload.hi_rxno == clean.json()["platform"]["hi_rxno"])).scalars()
        output = wire.loads(kept.body)
        assert eprx.verify(output, service_state(eshop["client"]).settings.eprx.platform_public_key)
    # the copy kept (RX-08): the database refuses its edit; one made behind the guard is named by audit verify
    edit = text("UPDATE eprx_download SET body = :b WHERE id = :i")
    with pytest.raises(DBAPIError), core_unit(engine) as u:
        u.connection().execute(edit, {"b": kept.body.replace('"drug_cnt":"1"', '"drug_cnt":"2"'), "i": kept.id})
    with behind_the_guard(engine, "eprx_download") as conn:
        conn.execute(edit, {"b": kept.body.replace('"drug_cnt":"1"', '"drug_cnt":"2"'), "i": kept.id})
    with read_session(engine) as s:
        named = verify(s, ctx_of(eshop).store_id).problems
    with behind_the_guard(engine, "eprx_download") as conn:  # put back: the module's other tests verify the store
        conn.execute(edit, {"b": kept.body, "i": kept.id})
    assert any(p["table"] == "eprx_download" and p["row_id"] == str(kept.id) for p in named), named


def test_the_platform_away_is_said_plainly_and_a_paper_prescription_still_goes(eshop: EShop) -> None:
    c, sandbox = eshop["client"], eshop["sandbox"]
    code = sandbox.issue_eprx(EMPLOYEE.psn_no, [AMOX])["qr"]
    sandbox.inject("http_status", "7201", status=503)
    r = scan(eshop, code)
    assert r.status_code == 503 and r.json()["code"] == "EPRX-AWAY", r.text
    assert "纸质" in r.json()["message_zh"] and "paper" in r.json()["message_en"]
    paper = c.post("/prescriptions", json={
        "rx_no": "P-001", "institution_code": HOSPITAL["code"], "institution_name": HOSPITAL["name"],
        "doctor_name": "陈静", "doctor_code": "D0002", "issued_on": eshop["clock"].today.isoformat(),
        "patient_name": ELDER.name, "patient_sex": "男", "patient_age": 77, "patient_certno": ELDER.certno,
        "diagnosis": "急性支气管炎", "for_insurance": True, "doctor_signed": True, "institution_sealed": True,
        "lines": [{"item_id": eshop["items"]["amox"], "qty": 1, "dosage": "0.5g", "frequency": "qid",
                   "drug_name": "阿莫西林胶囊", "route": "口服", "dosage_form": "胶囊"}]}, headers=eshop["cashier"])
    assert paper.status_code == 201, paper.text


@pytest.mark.refuses("RX-05")
def test_a_rejection_is_uploaded_with_rx05s_reason_and_cannot_be_dispensed(eshop: EShop) -> None:
    c = eshop["client"]
    issued = eshop["sandbox"].issue_eprx(RESIDENT.psn_no, [AMOX])
    rx = scan(eshop, issued["qr"]).json()["prescription"]
    no_reason = approve(eshop, rx["id"], verdict="rejected")
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "RX-05"
    r = approve(eshop, rx["id"], verdict="rejected", reason="dose", note="剂量偏大，请医生确认")
    assert r.status_code == 200 and r.json()["platform"]["review_uploaded"], r.text
    held = on_platform(eshop, issued["hi_rxno"])
    assert (held["reviews"][0]["verdict"], held["pharmacy"]) == ("2", None)  # freed for another pharmacy
    sid = sale_with(eshop, (BARCODE_AMOX, 1))
    tied = c.post(f"/sales/{sid}/prescription", json={"prescription_id": rx["id"]}, headers=eshop["cashier"])
    assert tied.status_code == 409 and tied.json()["code"] == "RX-05"


@pytest.mark.refuses("RX-01")
def test_reviewed_in_place_queued_through_the_outbox_and_not_dispensed_until_the_platform_took_it(
        eshop: EShop) -> None:
    """The pharmacist authorises the review at the cashier's till (X-Grant); the review's 7204 is written to the
    uploads' outbox with it and sent at once, and the platform's answer is lost on the way (it took the review; the
    store does not know). The review stands, queued; the sale is refused in cash, by card, after a suspend and
    resume (RX-01) until the worker's retry — the same message, answered alike — records the platform's taking."""
    c, h, engine = eshop["client"], eshop["cashier"], eshop["engine"]
    rx = scan(eshop, eshop["sandbox"].issue_eprx(ELDER.psn_no, [AMOX])["qr"]).json()["prescription"]
    grant = c.post("/auth/authorise", json={"username": "u_pharmacist", "pin": ROLE_PINS["pharmacist"],
                                           "action": "rx.review", "subject": str(rx["id"])}, headers=h)
    assert grant.status_code == 200, grant.text
    eshop["sandbox"].inject("drop", "7204")
    r = c.post(f"/eprx/prescriptions/{rx['id']}/review", json={"verdict": "approved"},
               headers=h | {"X-Grant": grant.json()["grant"]})
    assert r.status_code == 200, r.text
    platform = r.json()["platform"]
    assert r.json()["prescription"]["status"] == "approved" and not platform["review_uploaded"]
    assert platform["review_state"] == "failed" and r.json()["upload_error"]["code"] == "EPRX-QUEUED"
    assert len(on_platform(eshop, rx["rx_no"])["reviews"]) == 1  # the platform has it; the store does not know
    listed = c.get("/uploads", headers=eshop["admin"]).json()
    (row,) = [x for x in listed["failed"] if x["id"] == platform["review_row_id"]]
    assert row["txn"] == "7204" and row["payload"]["data"]["hi_rxno"] == rx["rx_no"] and row["msgid"]
    sid = sale_with(eshop, (BARCODE_AMOX, 1))
    assert c.post(f"/sales/{sid}/prescription", json={"prescription_id": rx["id"]}, headers=h).status_code == 200
    cash = pay_cash(c, h, sid, 1250, 1250)
    assert cash.status_code == 422 and cash.json()["code"] == "RX-01", cash.text
    assert identify(eshop, sid, card_no=ELDER.card_no, card_sn=ELDER.card_sn).status_code == 200
    card = settle(eshop, sid, 0)  # the card's precheck refuses before any 2102
    assert card.status_code == 422 and card.json()["code"] == "RX-01", card.text
    assert c.post(f"/sales/{sid}/suspend", json={}, headers=h).status_code == 200
    assert c.post(f"/sales/{sid}/resume", json={}, headers=h).status_code == 200
    assert c.post(f"/eprx/prescriptions/{rx['id']}/review-upload", headers=eshop["pharmacist"]).status_code in (
        404, 405)  # no direct send beside the outbox any more
    assert drain(eshop).total == 0  # its turn has not come: the worker waits the backoff
    again = pay_cash(c, h, sid, 1250, 1250)
    assert again.status_code == 422 and again.json()["code"] == "RX-01", again.text
    assert drain(eshop, later=timedelta(minutes=1)).accepted == 1  # the worker's retry: same msgid
    view = c.get(f"/eprx/prescriptions/{rx['id']}", headers=h).json()
    assert view["review_uploaded"] and view["review_state"] == "accepted"
    assert view["rx_chk_biz_sn"] == on_platform(eshop, rx["rx_no"])["rx_chk_biz_sn"]
    assert len(on_platform(eshop, rx["rx_no"])["reviews"]) == 1  # once at the platform, though sent twice
    assert len(eshop["sandbox"].deliveries(msgid=row["msgid"])) == 2
    with read_session(engine) as s:
        (taken,) = s.execute(select(EprxReviewUpload).where(EprxReviewUpload.prescription_id == rx["id"])).scalars()
        assert taken.msgid == row["msgid"]
    assert drain(eshop, later=timedelta(hours=1)).total == 0  # accepted: never sent again
    preview = c.post(f"/sales/{sid}/card/preview", json={}, headers=h)
    assert preview.status_code == 200, preview.text
    paid = settle(eshop, sid, preview.json()["due_otherwise_fen"])
    assert paid.status_code == 200, paid.text
    drain(eshop, later=timedelta(hours=1))  # the sale's report (the module's next tests find no row waiting)
    assert [(r.txn, r.state) for r in platform_rows(engine, sid)] == [("7207", "accepted")]


def test_a_crash_between_settlement_and_report_is_recovered(eshop: EShop) -> None:
    engine = eshop["engine"]
    sandbox, c = eshop["sandbox"], eshop["client"]
    sid, rx = ready(eshop, doctor=1, days_ago=1, valid_days=3)  # not a split of another test's (RX-07)
    identify(eshop, sid)
    preview = c.post(f"/sales/{sid}/card/preview", json={}, headers=eshop["cashier"]).json()
    assert settle(eshop, sid, preview["due_otherwise_fen"]).status_code == 200
    # the report was written with the sale: pending until the worker runs (the service stopped here)
    (row,) = platform_rows(engine, sid)
    assert row.state == "pending"
    sandbox.inject("drop", "7207")  # the platform takes it, the answer is cut off
    drain(eshop)
    (row,) = platform_rows(engine, sid)
    assert row.state == "failed" and row.msgid
    assert on_platform(eshop, rx["rx_no"])["sales"]  # the platform has it; the store does not know
    uploads.recover(engine, ctx_of(eshop))  # the restart: a row cut off mid-send goes out again
    drain(eshop, later=timedelta(minutes=30))  # its turn again: the same msgid, answered alike
    (row,) = platform_rows(engine, sid)
    assert row.state == "accepted" and len(on_platform(eshop, rx["rx_no"])["sales"]) == 1
    assert len(sandbox.deliveries(msgid=row.msgid)) == 2


def test_the_shenzhen_variant_writes_off_by_7206_partial_fills_add_up_and_7206_cancels(eshop: EShop) -> None:
    sandbox, settings = eshop["sandbox"], eshop["settings"]
    issued = sandbox.issue_eprx(EMPLOYEE.psn_no, [AMOX | {"drug_cnt": 2}])
    gw, caller = other_pharmacy(settings, eshop["engine"], ctx_of(eshop))
    eprx.download(gw, caller, auth_rxno=issued["auth_rxno"])
    sn, _ = eprx.upload_review(gw, caller, {"hi_rxno": issued["hi_rxno"], "rx_chk_stas_codg": "1",
                                            "rx_chk_time": "2026-01-01 10:00:00", "phar_name": "药师",
                                            "phar_prac_cert_no": "ZY-9"})

    def sale(sn_: str, flag: str = "0") -> dict[str, Any]:
        return {"data": {"hi_rxno": issued["hi_rxno"], "rx_chk_biz_sn": sn, "medins_sale_sn": sn_,
                         "sel_time": "2026-01-01 10:05:00", "sel_retn_flag": flag},
                "selinfo": [{"med_list_codg": CODES["yi"], "sel_cnt": "1"}]}

    msgid = gw.new_msgid()
    assert wire_uploads.send(gw, caller, "7206", sale("S1"), msgid).accepted  # one box of two: a partial fill
    assert wire_uploads.send(gw, caller, "7206", sale("S1"), msgid).accepted  # a retry: answered alike, once
    assert wire_uploads.send(gw, caller, "7206", sale("S2"), gw.new_msgid()).accepted  # the rest
    assert not wire_uploads.send(gw, caller, "7206", sale("S3"), gw.new_msgid()).accepted  # more than prescribed
    back = {"data": {"hi_rxno": issued["hi_rxno"], "medins_sale_sn": "S1", "sel_retn_flag": "1"}}
    assert wire_uploads.send(gw, caller, "7206", back, gw.new_msgid()).accepted
    sales = on_platform(eshop, issued["hi_rxno"])["sales"]
    assert [(x["sale_sn"], bool(x["cancelled_by"])) for x in sales] == [("S1", True), ("S2", False)]
    gw.close()


@pytest.mark.parametrize("variant", ["national", "shenzhen"])
def test_a_partial_return_cancels_the_report_and_reports_again_what_the_patient_kept(
        eshop: EShop, variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three boxes sold in cash against a prescription of three; one comes back, then another. Each return cancels
    the platform's standing report (7208; Shenzhen: the 7206 write-off flagged as a return, which carries no lines
    of its own, [BZ] CFHX7206) and reports again what the patient kept (7207 / 7206), sent only once the
    cancellation is accepted; after each, the platform counts dispensed what the store does."""
    c, h, engine, sandbox = eshop["client"], eshop["cashier"], eshop["engine"], eshop["sandbox"]
    state = service_state(c)
    monkeypatch.setattr(state, "settings", state.settings.model_copy(
        update={"eprx": state.settings.eprx.model_copy(update={"variant": variant})}))
    report, cancel = ("7207", "7208") if variant == "national" else ("7206", "7206")
    issued = sandbox.issue_eprx(RETIREE.psn_no, [AMOX | {"drug_cnt": 3}], doctor=1, course="chronic",
                                days_ago=0 if variant == "national" else 1, valid_days=3)
    rx = scan(eshop, issued["qr"]).json()["prescription"]
    reviewed = approve(eshop, rx["id"])
    assert reviewed.status_code == 200 and reviewed.json()["platform"]["review_state"] == "accepted", reviewed.text
    sid = sale_with(eshop, (BARCODE_AMOX, 3))
    assert c.post(f"/sales/{sid}/prescription", json={"prescription_id": rx["id"]}, headers=h).status_code == 200
    paid = pay_cash(c, h, sid, 3 * 1250, 3 * 1250)
    assert paid.status_code == 200, paid.text
    line_id = paid.json()["lines"][0]["id"]

    def views() -> tuple[dict[str, int], int]:
        """(the platform's dispensed per drug, the store's dispensed of the prescription in boxes)"""
        (rx_line,) = c.get(f"/prescriptions/{rx['id']}", headers=h).json()["lines"]
        return on_platform(eshop, issued["hi_rxno"])["dispensed"], rx_line["dispensed_base"] // 24

    def give_back(qty: int) -> str:
        r = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "患者退药",
                                     "lines": [{"sale_line_id": line_id, "qty": qty}]}, headers=eshop["pharmacist"])
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    drain(eshop)
    assert views() == ({CODES["yi"]: 3}, 3)
    first = give_back(1)
    rows = platform_rows(engine, sid)
    assert [(r.txn, r.ref_type, r.state) for r in rows] == [(report, "sale", "accepted"),
                                                            (cancel, "sale_return", "pending"),
                                                            (report, "sale_kept", "pending")]
    assert [r.payload["data"].get("sel_retn_flag") for r in rows] == (
        [None] * 3 if variant == "national" else ["0", "1", "0"])
    assert rows[1].after_id == rows[0].id and rows[2].after_id == rows[1].id
    assert [x["sel_cnt"] for x in rows[2].payload["selinfo"]] == ["2"]
    assert rows[2].payload["data"]["medins_sale_sn"] == sid
    sandbox.inject("http_status", cancel, status=503)  # the cancellation does not get through
    drain(eshop)
    assert [r.state for r in platform_rows(engine, sid)] == ["accepted", "failed", "pending"]  # the rewrite waits
    assert views() == ({CODES["yi"]: 3}, 2)  # the platform still counts three until the cancel lands
    drain(eshop, later=timedelta(minutes=5))
    assert [r.state for r in platform_rows(engine, sid)] == ["accepted"] * 3
    assert views() == ({CODES["yi"]: 2}, 2)
    give_back(1)
    drain(eshop)
    rows = platform_rows(engine, sid)
    assert [(r.txn, r.ref_type, r.state) for r in rows][3:] == [(cancel, "sale_return", "accepted"),
                                                                (report, "sale_kept", "accepted")]
    assert rows[3].after_id == rows[2].id and rows[4].payload["selinfo"][0]["sel_cnt"] == "1"
    assert views() == ({CODES["yi"]: 1}, 1)
    sales = on_platform(eshop, issued["hi_rxno"])["sales"]
    assert [(x["infno"], bool(x["cancelled_by"])) for x in sales] == [(report, True), (report, True), (report, False)]
    retried = c.post("/returns", json={"id": first, "sale_id": sid, "reason": "患者退药",
                                       "lines": [{"sale_line_id": line_id, "qty": 1}]}, headers=eshop["pharmacist"])
    assert retried.status_code in (200, 201, 409), retried.text  # a retried return writes nothing again
    assert len(platform_rows(engine, sid)) == 5


def test_a_review_refused_for_the_clock_is_retried_once_the_clock_is_right(eshop: EShop,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST centre refuses an envelope stamped more than 5 minutes off its clock. For an outbox row that is no
    refusal of the content (a person would find nothing to correct): the row fails, says to check the clock, and
    is sent again by itself — the same message — and taken once the clock is right."""
    c, engine = eshop["client"], eshop["engine"]
    gw = rest_gateway(eshop)
    monkeypatch.setattr(c.app.state, "insurance", gw)  # type: ignore[attr-defined]
    got = scan(eshop, eshop["sandbox"].issue_eprx(ELDER.psn_no, [AMOX], doctor=1, days_ago=1, valid_days=3)["qr"])
    assert got.status_code == 201, got.text
    rx = got.json()["prescription"]
    gw._clock_ms = skewed(eshop["clock"], -10 * 60 * 1000)  # the store's clock ten minutes slow
    r = approve(eshop, rx["id"])
    assert r.status_code == 200, r.text
    assert r.json()["platform"]["review_state"] == "failed" and r.json()["upload_error"]["code"] == "EPRX-QUEUED"
    assert "时钟" in r.json()["upload_error"]["message_zh"]
    (row,) = [x for x in c.get("/uploads", headers=eshop["admin"]).json()["failed"]
              if x["id"] == r.json()["platform"]["review_row_id"]]
    assert "时钟" in row["last_error"] and not row["centre_message"]
    assert not on_platform(eshop, rx["rx_no"])["reviews"]
    assert drain(eshop, later=timedelta(minutes=1)).failed == 1  # still off: fails again, waits longer
    gw._clock_ms = skewed(eshop["clock"], 0)  # the clock put right
    assert drain(eshop, later=timedelta(minutes=10)).accepted == 1
    view = c.get(f"/eprx/prescriptions/{rx['id']}", headers=eshop["cashier"]).json()
    assert view["review_uploaded"] and view["review_state"] == "accepted"
    assert len(on_platform(eshop, rx["rx_no"])["reviews"]) == 1
    with core_unit(engine) as u:
        msgids = {m for (m,) in u.connection().execute(text(
            "SELECT msgid FROM upload_outbox WHERE id = :i"), {"i": row["id"]})}
    assert msgids == {row["msgid"]}
    gw.close()


class Tampering:
    """A transport that changes the envelope on the way (after the store signed it), keeping what it sent."""

    def __init__(self, inner: Any, change: Any) -> None:
        self.inner, self.change, self.sent = inner, change, list[dict[str, Any]]()

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Any:
        envelope = self.change(wire.loads(body))
        self.sent.append(envelope)
        return self.inner.post(url, wire.dumps(envelope).encode(), headers, timeout)

    def close(self) -> None:
        self.inner.close()


def skewed(clock: Clock, ms: int) -> Callable[[], int]:
    """The store's clock for the envelope's timestamp, off by `ms` (the centre checks it against its own)."""
    return lambda: int(clock.now.timestamp() * 1000) + ms


@pytest.mark.refuses("ST-02")
def test_the_rest_centre_refuses_a_tampered_stale_or_unknown_envelope_and_does_nothing(eshop: EShop) -> None:
    """The REST centre's envelope checks: a signature that does not verify (the body or the stamp changed after
    signing), a stale timestamp, an unknown appId — each refused in the platform's error shape, the review not
    taken; the same review sealed properly is taken."""
    sandbox = eshop["sandbox"]
    issued = sandbox.issue_eprx(RESIDENT.psn_no, [AMOX], doctor=1)
    gw = rest_gateway(eshop)
    with read_session(eshop["engine"]) as s:
        caller = uploads.uploads_caller(s, ctx_of(eshop))  # the store's sign-in of today
    assert caller is not None
    token = eprx.decode(gw, caller, issued["qr"]).epc_token
    assert eprx.verify(eprx.download(gw, caller, epc_token=token).output, eshop["settings"].eprx.platform_public_key)
    review = {"hi_rxno": issued["hi_rxno"], "rx_chk_stas_codg": "1", "rx_chk_time": "2026-01-01 10:00:00",
              "phar_name": "药师", "phar_prac_cert_no": "ZY-1"}
    real = gw.transport
    flipped = Tampering(real, lambda e: e | {"signData": e["signData"][:-1] + ("0" if e["signData"][-1] != "0"
                                                                               else "1")})
    swapped = Tampering(real, lambda e: e | {"encData": eprx_rest.encrypt(
        eshop["settings"].eprx.app_secret, eprx_rest.decrypt(eshop["settings"].eprx.app_secret, e["encData"])
        .replace('"rx_chk_stas_codg":"1"', '"rx_chk_stas_codg":"2","rx_chk_opnn":"x"'))})
    stale = Tampering(real, lambda e: e)
    restamped = Tampering(real, lambda e: e | {"timestamp": str(int(e["timestamp"]) + 10 * 60 * 1000)})
    stranger = Tampering(real, lambda e: e | {"appId": "SOMEONE-ELSE"})
    tries = [(flipped, eprx_rest_sandbox.BAD_SIGN, None), (swapped, eprx_rest_sandbox.BAD_SIGN, None),
             (stale, eprx_rest_sandbox.STALE, -10 * 60 * 1000), (restamped, eprx_rest_sandbox.BAD_SIGN, -10 * 60 * 1000),
             (stranger, eprx_rest_sandbox.UNKNOWN_APP, None)]
    for transport, code, skew in tries:
        gw.transport = transport
        gw._clock_ms = skewed(eshop["clock"], skew or 0)
        with pytest.raises(CentreRefused) as refused:
            eprx.upload_review(gw, caller, review)
        assert refused.value.infcode == code, (code, refused.value.err_msg)
        assert not on_platform(eshop, issued["hi_rxno"])["reviews"]
    gw.transport, gw._clock_ms = real, skewed(eshop["clock"], 0)
    sn, _ = eprx.upload_review(gw, caller, review)  # sealed as it should be: taken
    assert [r["rx_chk_biz_sn"] for r in on_platform(eshop, issued["hi_rxno"])["reviews"]] == [sn]
    with pytest.raises(CentreRefused) as refused:  # the centre's own refusal comes in the same shape, its words kept
        eprx.decode(gw, caller, sandbox.issue_eprx(RESIDENT.psn_no, [AMOX], doctor=1, code_hours=-1)["qr"])
    assert refused.value.infcode == eprx_rest_sandbox.BUSINESS and "过期" in refused.value.err_msg
    # the centre's answer changed on the way: the store does not take it for the centre's
    answer = eprx_rest.seal({"data": {"rx_chk_biz_sn": "X"}}, "A", eshop["settings"].eprx.app_secret,
                            eprx_sandbox.PRIVATE_KEY, eprx_sandbox.PUBLIC_KEY, 1)
    assert eprx_rest.open_answer(answer | {"code": 0}, eshop["settings"].eprx.app_secret,
                                 eshop["settings"].eprx.platform_public_key)[2] == {"data": {"rx_chk_biz_sn": "X"}}
    with pytest.raises(ValueError, match="signData"):
        eprx_rest.open_answer(answer | {"code": 0, "timestamp": "2"}, eshop["settings"].eprx.app_secret,
                              eshop["settings"].eprx.platform_public_key)
    gw.close()


INK = {"█": (True, True), "▀": (True, False), "▄": (False, True), "\xa0": (False, False), " ": (False, False)}


def modules(drawn: list[str], dark_background: bool) -> list[list[bool]]:
    """A QR drawn in half blocks read back as its modules (True: dark); on a dark background the ink is the light."""
    rows: list[list[bool]] = []
    for line in drawn:
        for half in (0, 1):
            rows.append([INK[ch][half] != dark_background for ch in line])
    return rows


def expected(code: str) -> list[list[bool]]:
    """The QR code of `code` as the qrcode library lays it out (ECC M, quiet zone 2), built here independently."""
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(code)
    qr.make(fit=True)
    return [list(map(bool, row)) for row in qr.get_matrix()]


def test_the_demo_codes_are_shown_as_qr_on_screen_and_printed_as_qr_at_the_till(eshop: EShop,
                                                                                tmp_path: Path) -> None:
    """`dingdian eprx codes --qr` draws each demo code as a QR a scanner reads off the screen (each figure is that
    code's and no other's); `--printer T01` queues them on the till's receipt printer, which prints the printer's
    own QR (GS ( k) with the code under it."""
    from server.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["eprx", "codes", "--qr"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    for n, code in enumerate(DEMO_CODES):
        start = lines.index(code) + 1
        drawn = [ln for ln in lines[start:start + 40] if ln and set(ln) <= set(INK)]
        want = expected(code)
        assert modules(drawn, dark_background=True)[:len(want)] == want, code
        assert modules(drawn, dark_background=True)[:len(want)] != expected(DEMO_CODES[(n + 1) % 3])
    light = runner.invoke(app, ["eprx", "codes", "--qr", "--light", "EPRX-ANOTHER-1"])
    drawn = [ln for ln in light.output.splitlines() if ln and set(ln) <= set(INK)]
    assert modules(drawn, dark_background=False)[:len(expected("EPRX-ANOTHER-1"))] == expected("EPRX-ANOTHER-1")
    assert runner.invoke(app, ["eprx", "codes", "x" * 61]).exit_code == 2
    queued = runner.invoke(app, ["eprx", "codes", DEMO_CODES[0], "--printer", "T01",
                                 "--config", str(_config(tmp_path, eshop["settings"]))])
    assert queued.exit_code == 0, queued.output
    with read_session(eshop["engine"]) as s:
        job = s.execute(select(PrintJob).where(col(PrintJob.kind) == "qr_codes").order_by(col(PrintJob.id).desc())
                        ).scalars().first()
    assert job is not None and job.till_code == "T01" and job.document["codes"] == [DEMO_CODES[0]]
    sheet = from_json(QrSheet, job.document)  # what the print worker lays out
    assert sheet.store.fixmedins_code == eshop["settings"].store.fixmedins_code
    paper = escpos_bytes(sheet, 42)
    data = DEMO_CODES[0].encode()
    assert b"\x1d(k" + bytes([len(data) + 3, 0]) + b"1P0" + data in paper  # the printer's QR, holding the code
    assert b"\x1d(k\x03\x001Q0" in paper and data + b"\n" in paper  # printed, the code under it in text
    shown_on_till = preview(sheet, 42).splitlines()  # the demo's simulated printer: the till's 小票 screen
    drawn = [ln.strip(" ") for ln in shown_on_till if ln.strip(" ") and set(ln.strip(" ")) <= set(INK)]
    assert modules(drawn, dark_background=True)[:len(expected(DEMO_CODES[0]))] == expected(DEMO_CODES[0])

