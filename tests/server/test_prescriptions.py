"""Prescriptions through the API: entry checks (RX-02, RX-07), the pharmacist's review (RX-05, RX-06, RX-10,
STAFF-01), dispensing against it (RX-01, RX-04), retention (RX-08), electronic import and the registry."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server.audit import verify
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.services.context import Ctx
from tests.conftest import (
    BARCODE_AMOX,
    BARCODE_VITC,
    Shop,
    pharmacist_on_duty,
    prescribe,
    service_state,
)
from tests.server.test_selling import new_sale, pay_cash, scan
from tests.tamper import behind_the_guard


def rx_body(item_id: int, today: date, **fields: Any) -> dict[str, Any]:
    line = {"item_id": item_id, "qty": 2, "dosage": "0.5g", "frequency": "qid", "route": "口服",
            "dosage_form": "胶囊", "drug_name": "阿莫西林胶囊"} | fields.pop("line", {})
    return {"rx_no": fields.pop("rx_no", "RX-1001"), "institution_code": "H44030000001", "institution_name": "示范医院",
            "doctor_name": "李医生", "doctor_code": "D001", "issued_on": today.isoformat(), "patient_name": "张三",
            "patient_sex": "男", "patient_age": 40, "diagnosis": "急性支气管炎", "doctor_signed": True,
            "lines": [line]} | fields


def registry(c: TestClient, h: dict[str, str], designated: bool = True) -> None:
    r = c.put("/institutions", json={"institutions": [{
        "code": "H44030000001", "name": "示范医院", "admdvs": "440300", "designated": designated,
        "doctors": [{"code": "D001", "name": "李医生"}]}]}, headers=h)
    assert r.status_code == 200, r.text


def enter(shop: Shop, **fields: Any) -> Any:
    return shop["client"].post("/prescriptions", json=rx_body(shop["items"]["amox"], shop["clock"].today, **fields),
                               headers=shop["cashier"])


def review(shop: Shop, rx_id: int, verdict: str = "approved", **fields: Any) -> Any:
    return shop["client"].post(f"/prescriptions/{rx_id}/review", json={"verdict": verdict} | fields,
                               headers=shop["pharmacist"])


def count_rx(shop: Shop) -> int:
    return len(shop["client"].get("/prescriptions", headers=shop["manager"]).json())


# --- RX-01: every tender ---------------------------------------------------------------------------

@pytest.mark.refuses("RX-01")
def test_rx01_an_rx_drug_is_not_paid_for_cash_without_an_approved_prescription(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 2)
    scan(c, h, sid, BARCODE_VITC, 1)
    none = pay_cash(c, h, sid, 2850, 3000)
    assert none.status_code == 422 and none.json()["code"] == "RX-01"
    other = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "other", "amount_fen": 2850,
                                                                "reference": "银行卡 1234"}]}, headers=h)
    assert other.status_code == 422 and other.json()["code"] == "RX-01"  # whatever the tender
    pending = prescribe(shop, sid, [(shop["items"]["amox"], 2, False)], approve=False)
    assert pending["status"] == "pending"
    waiting = pay_cash(c, h, sid, 2850, 3000)
    assert waiting.status_code == 422 and waiting.json()["code"] == "RX-01"
    assert "尚未经药师审核" in waiting.json()["message_zh"]
    pharmacist_on_duty(shop)
    assert review(shop, pending["id"]).status_code == 200
    done = pay_cash(c, h, sid, 2850, 3000)
    assert done.status_code == 200, done.text
    assert done.json()["prescription_id"] == pending["id"]
    after = c.get(f"/prescriptions/{pending['id']}", headers=h).json()
    assert after["lines"][0]["dispensed_base"] == 2 * 24 and after["lines"][0]["remaining_base"] == 0


def test_an_otc_only_sale_needs_no_prescription(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    assert pay_cash(c, h, sid, 700, 700).status_code == 200


# --- RX-04: dispense exactly what is prescribed ---------------------------------------------------------

@pytest.mark.refuses("RX-04")
def test_rx04_no_more_than_prescribed_no_substitution_no_second_fill(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    amox = shop["items"]["amox"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 3)
    rx = prescribe(shop, sid, [(amox, 2, False)])
    over = pay_cash(c, h, sid, 3750, 4000)
    assert over.status_code == 422 and over.json()["code"] == "RX-04", over.text
    assert over.json()["details"]["remaining"] == 48
    line = c.get(f"/sales/{sid}", headers=h).json()["lines"][0]
    c.patch(f"/sales/{sid}/lines/{line['id']}", json={"qty": 1}, headers=h)
    assert pay_cash(c, h, sid, 1250, 1250).status_code == 200  # a partial fill: one of two boxes
    assert c.get(f"/prescriptions/{rx['id']}", headers=h).json()["lines"][0]["remaining_base"] == 24
    second = new_sale(c, h)
    scan(c, h, second, BARCODE_AMOX, 1)
    assert c.post(f"/sales/{second}/prescription", json={"prescription_id": rx["id"]}, headers=h).status_code == 200
    assert pay_cash(c, h, second, 1250, 1250).status_code == 200  # the rest of it
    third = new_sale(c, h)
    scan(c, h, third, BARCODE_AMOX, 1)
    c.post(f"/sales/{third}/prescription", json={"prescription_id": rx["id"]}, headers=h)
    again = pay_cash(c, h, third, 1250, 1250)
    assert again.status_code == 422 and again.json()["code"] == "RX-04"
    assert "不得重复调配" in again.json()["message_zh"]


@pytest.mark.refuses("RX-04")
def test_rx04_a_drug_not_on_the_prescription_is_refused(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    from server.services.catalog import items as catalog_service

    with core_unit(engine) as u:
        other = catalog_service.create_item(u, ctx, {"code": "YP0009", "name": "头孢氨苄胶囊", "spec": "0.25g*24粒",
                                                     "approval_no": "国药准字H9", "gsp_class": "rx",
                                                     "route": "internal", "price_fen": 1500}, ["6909999999996"], "Z-RX")
        from server.services.stock import batches as stock
        stock.add_opening_batch(u, ctx, id_of(other), None, "B-CEF", "L9", ctx.today - timedelta(days=30),
                                ctx.today + timedelta(days=300), 700, 48)
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, "6909999999996", 1)
    prescribe(shop, sid, [(shop["items"]["amox"], 1, False)])
    r = pay_cash(c, h, sid, 1500, 1500)
    assert r.status_code == 422 and r.json()["code"] == "RX-04" and "不得替换" in r.json()["message_zh"]


def test_a_return_gives_the_prescription_back_what_came_back(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 2)
    rx = prescribe(shop, sid, [(shop["items"]["amox"], 2, False)])
    sale = pay_cash(c, h, sid, 2500, 2500).json()
    r = c.post("/returns", json={"id": "0b6e7a2c-1111-4c1e-9a55-3f1e2d3c4b5a", "sale_id": sid, "reason": "患者退药",
                                 "lines": [{"sale_line_id": sale["lines"][0]["id"], "qty": 1}]},
               headers=shop["pharmacist"])
    assert r.status_code == 201, r.text
    assert c.get(f"/prescriptions/{rx['id']}", headers=h).json()["lines"][0]["remaining_base"] == 24


# --- the review: RX-05, RX-06, RX-10, STAFF-01 -------------------------------------------------------------------

@pytest.mark.refuses("STAFF-01", "RX-10", "SEC-01")
def test_staff01_rx10_only_a_qualified_pharmacist_on_duty_reviews(shop: Shop) -> None:
    rx = enter(shop).json()
    cashier = shop["client"].post(f"/prescriptions/{rx['id']}/review", json={"verdict": "approved"},
                                  headers=shop["cashier"])
    assert cashier.status_code == 403 and cashier.json()["code"] == "SEC-01"
    unqualified = review(shop, rx["id"])
    assert unqualified.status_code == 403 and unqualified.json()["code"] == "STAFF-01"
    pharmacist_on_duty(shop)
    shop["client"].delete(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    off_duty = review(shop, rx["id"])
    assert off_duty.status_code == 403 and off_duty.json()["code"] == "RX-10"
    pharmacist_on_duty(shop)
    assert review(shop, rx["id"]).json()["status"] == "approved"
    again = review(shop, rx["id"])
    assert again.status_code == 409 and again.json()["code"] == "RX-STATE"


@pytest.mark.refuses("RX-10")
def test_rx10_a_sale_is_not_paid_once_the_approving_pharmacist_left_duty(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 1)
    prescribe(shop, sid, [(shop["items"]["amox"], 1, False)])
    c.delete(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    r = pay_cash(c, h, sid, 1250, 1250)
    assert r.status_code == 422 and r.json()["code"] == "RX-10"


@pytest.mark.refuses("RX-05")
def test_rx05_a_refusal_needs_a_listed_reason_and_a_referral_names_the_pharmacy(shop: Shop) -> None:
    pharmacist_on_duty(shop)
    rx = enter(shop).json()
    bare = review(shop, rx["id"], "rejected")
    assert bare.status_code == 422 and bare.json()["code"] == "RX-05"
    made_up = review(shop, rx["id"], "rejected", reason="不喜欢")
    assert made_up.status_code == 422
    nowhere = review(shop, rx["id"], "referred", reason="out_of_stock")
    assert nowhere.status_code == 422 and nowhere.json()["code"] == "RX-05"
    sent = review(shop, rx["id"], "referred", reason="out_of_stock", referred_to="丁点大药房科技园店")
    assert sent.status_code == 200
    body = sent.json()
    assert body["status"] == "referred" and body["reviews"][0]["referred_to"] == "丁点大药房科技园店"
    assert body["reviews"][0]["reason_label"].startswith("缺货")
    sid = new_sale(shop["client"], shop["cashier"])
    tied = shop["client"].post(f"/sales/{sid}/prescription", json={"prescription_id": rx["id"]}, headers=shop["cashier"])
    assert tied.status_code == 409 and tied.json()["code"] == "RX-05"


@pytest.mark.refuses("RX-06")
def test_rx06_approving_an_over_limit_prescription_is_refused_with_the_limit_named(shop: Shop) -> None:
    pharmacist_on_duty(shop)
    long = enter(shop, line={"qty": 3}).json()  # 72 capsules at 8 a day: 9 days; profile A: acute at most 7
    assert long["lines"][0]["days"] == 9
    r = review(shop, long["id"])
    assert r.status_code == 422 and r.json()["code"] == "RX-06"
    assert r.json()["details"]["limit"] == 7
    assert review(shop, long["id"], "rejected", reason="over_limit", note="请医师修改疗程").status_code == 200
    amended_here = review(shop, long["id"])  # the prescriber amends: that is a new prescription (RX-05)
    assert amended_here.status_code == 409 and amended_here.json()["code"] == "RX-STATE"
    chronic = enter(shop, rx_no="RX-1002", course="chronic", line={"qty": 5}).json()  # 120 capsules: 15 days
    assert review(shop, chronic["id"]).status_code == 200


# --- entry: RX-02, RX-07 -------------------------------------------------------------------------------------

@pytest.mark.refuses("RX-02")
def test_rx02_incomplete_or_unsigned_prescriptions_are_refused_and_nothing_is_kept(shop: Shop) -> None:
    unsigned = enter(shop, doctor_signed=False)
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "RX-02"
    today = shop["clock"].today
    no_form = shop["client"].post("/prescriptions", json=rx_body(shop["items"]["amox"], today, line={"dosage_form": ""}),
                                  headers=shop["cashier"])
    assert no_form.status_code == 422 and "剂型" in no_form.json()["message_zh"]
    missing = shop["client"].post("/prescriptions", json={k: v for k, v in rx_body(1, today).items() if k != "diagnosis"},
                                  headers=shop["cashier"])
    assert missing.status_code == 422
    assert count_rx(shop) == 0


@pytest.mark.refuses("RX-02", "SEC-01")
def test_rx02_a_waipei_prescription_needs_a_designated_institution_its_doctor_and_seal(shop: Shop) -> None:
    c = shop["client"]
    unknown = enter(shop, for_insurance=True, institution_sealed=True)
    assert unknown.status_code == 422 and unknown.json()["code"] == "RX-02"
    assert "名录" in unknown.json()["message_zh"]
    registry(c, shop["manager"], designated=False)
    suspended = enter(shop, for_insurance=True, institution_sealed=True)
    assert suspended.status_code == 422 and "不是定点医疗机构" in suspended.json()["message_zh"]
    registry(c, shop["manager"])
    stranger = enter(shop, for_insurance=True, institution_sealed=True, doctor_code="D999")
    assert stranger.status_code == 422 and "医师名录" in stranger.json()["message_zh"]
    unsealed = enter(shop, for_insurance=True)
    assert unsealed.status_code == 422 and "盖章" in unsealed.json()["message_zh"]
    ok = enter(shop, for_insurance=True, institution_sealed=True)
    assert ok.status_code == 201 and ok.json()["for_insurance"] is True
    assert c.put("/institutions", json={"institutions": [{"code": "X", "name": "Y"}]},
                 headers=shop["cashier"]).status_code == 403


@pytest.mark.refuses("RX-07")
@pytest.mark.business_day
def test_rx07_post_dated_expired_duplicate_and_split_prescriptions_are_refused(shop: Shop) -> None:
    """Issued today (store time) is valid today only; tomorrow's is post-dated, yesterday's expired."""
    today = shop["clock"].today
    ahead = enter(shop, issued_on=(today + timedelta(days=1)).isoformat())
    assert ahead.status_code == 422 and ahead.json()["code"] == "RX-07" and "晚于今天" in ahead.json()["message_zh"]
    stale = enter(shop, issued_on=(today - timedelta(days=1)).isoformat())
    assert stale.status_code == 422 and "已过期" in stale.json()["message_zh"]
    extended = enter(shop, rx_no="RX-EXT", issued_on=(today - timedelta(days=2)).isoformat(), valid_days=3)
    assert extended.status_code == 201  # the prescriber extended it to three days
    too_long = enter(shop, rx_no="RX-LONG", valid_days=4)
    assert too_long.status_code == 422 and too_long.json()["code"] == "RX-07"
    first = enter(shop)
    assert first.status_code == 201
    copy = enter(shop)
    assert copy.status_code == 409 and copy.json()["code"] == "RX-07"
    split = enter(shop, rx_no="RX-1001-B")
    assert split.status_code == 422 and "分解处方" in split.json()["message_zh"]
    other_patient = enter(shop, rx_no="RX-1001-C", patient_name="李四")
    assert other_patient.status_code == 201


# --- RX-08: kept, findable, printable; never deleted ------------------------------------------------------------

@pytest.mark.refuses("RX-08")
def test_rx08_prescriptions_are_never_deleted_and_can_be_found_for_an_inspector(shop: Shop) -> None:
    c = shop["client"]
    rx = enter(shop, patient_certno="110101199003071234").json()
    assert rx["patient_certno_masked"] != "110101199003071234" and rx["patient_certno_masked"].endswith("1234")
    gone = c.delete(f"/prescriptions/{rx['id']}", headers=shop["cashier"])
    assert gone.status_code == 409 and gone.json()["code"] == "RX-08"
    assert c.get(f"/prescriptions/{rx['id']}", headers=shop["manager"]).status_code == 200
    enter(shop, rx_no="RX-2", patient_name="李四", institution_code="H2", institution_name="第二医院")
    today = shop["clock"].today
    by = {q: [x["rx_no"] for x in c.get("/prescriptions", params=p, headers=shop["manager"]).json()]
          for q, p in {"patient": {"patient": "张三"}, "id": {"patient": "110101199003071234"},
                       "inst": {"institution": "第二"}, "day": {"from": today.isoformat(), "to": today.isoformat()},
                       "before": {"to": (today - timedelta(days=1)).isoformat()}}.items()}
    assert by == {"patient": ["RX-1001"], "id": ["RX-1001"], "inst": ["RX-2"], "day": ["RX-2", "RX-1001"], "before": []}


def test_rx08_a_scan_of_the_paper_prescription_is_kept_whole(shop: Shop) -> None:
    c = shop["client"]
    rx = enter(shop).json()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    up = c.post(f"/prescriptions/{rx['id']}/attachments", content=png,
                headers=shop["cashier"] | {"Content-Type": "image/png"})
    assert up.status_code == 201, up.text
    got = c.get(f"/prescriptions/{rx['id']}/attachments/{up.json()['id']}", headers=shop["manager"])
    assert got.content == png and got.headers["content-type"] == "image/png"
    wrong = c.post(f"/prescriptions/{rx['id']}/attachments", content=b"MZ\x90",
                   headers=shop["cashier"] | {"Content-Type": "application/x-msdownload"})
    assert wrong.status_code == 415
    empty = c.post(f"/prescriptions/{rx['id']}/attachments", content=b"",
                   headers=shop["cashier"] | {"Content-Type": "image/png"})
    assert empty.status_code == 422
    assert len(c.get(f"/prescriptions/{rx['id']}", headers=shop["manager"]).json()["attachments"]) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's one writer at a time
def test_rx08_a_scan_waiting_for_the_writer_does_not_hold_up_the_service(shop: Shop) -> None:
    """The upload is read on the event loop and stored in a worker: while another unit of work holds the
    writer's lock, the service answers everyone else."""
    c = shop["client"]
    rx = enter(shop).json()
    holding, release, out = threading.Event(), threading.Event(), []

    def writer() -> None:
        with core_unit(service_state(c).engine):
            holding.set()
            release.wait(10)

    held = threading.Thread(target=writer)
    held.start()
    assert holding.wait(5)
    upload = threading.Thread(target=lambda: out.append(c.post(
        f"/prescriptions/{rx['id']}/attachments", content=b"\x89PNG\r\n\x1a\n" + bytes(64),
        headers=shop["cashier"] | {"Content-Type": "image/png"})))
    upload.start()
    try:
        time.sleep(0.2)
        assert upload.is_alive()  # waiting for the lock
        t0 = time.perf_counter()
        assert c.get("/health").status_code == 200
        assert time.perf_counter() - t0 < 0.5
    finally:
        release.set()
        held.join(5)
        upload.join(10)
    assert out[0].status_code == 201, out[0].text


# --- electronic 外配处方 -----------------------------------------------------------------------------------------

def electronic(today: date, item_code: str = "XJ01CAA000A000000009001", **over: Any) -> dict[str, Any]:
    return {"hi_rxno": "E20261123001", "fixmedins_code": "H44030000001", "fixmedins_name": "示范医院",
            "prsc_dr_code": "D001", "prsc_dr_name": "李医生", "prsc_time": f"{today.isoformat()} 09:30:00",
            "patn_name": "张三", "gend": "1", "age": "40", "certno": "110101199003071234",
            "diseinfo": [{"diag_code": "J20.900", "diag_name": "急性支气管炎"}],
            "rxdrugdetail": [{"med_list_codg": item_code, "drug_genname": "阿莫西林胶囊", "drug_dosform": "胶囊",
                              "drug_cnt": "2", "sin_doscnt": "0.5g", "used_frquname": "tid", "medc_way_dscr": "口服",
                              "prd_days": "3"}]} | over


class Answer:
    """What the service answered, shaped as a response (status_code, json()): the entry's use case called as the
    platform's download calls it."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code, self._body = status_code, body

    def json(self) -> dict[str, Any]:
        return self._body


def import_electronic(shop: Shop, doc: Any) -> Answer:
    """An electronic 外配处方 as the platform's 7203 download reads (server.services.rx.platform.flatten), entered by
    the shop's cashier with the checks every prescription gets. No route takes one a client built: the platform's
    download (tests/insurance/test_eprx.py) is the only way in."""
    from server.api.prescriptions import rx_out
    from server.audit import Actor
    from server.db.uow import orm
    from server.errors import AppError
    from server.services.context import Ctx
    from server.services.rx import entry as rx_entry
    from server.services.store.users import find_user

    state = service_state(shop["client"])
    ctx = Ctx(state.store_id, state.settings)
    try:
        with core_unit(state.engine) as u:
            cashier = find_user(orm(u), ctx, "u_cashier")
            ctx = ctx.acting(Actor(cashier.id, cashier.username))
            rx = rx_entry.create(u, ctx, rx_entry.from_electronic(orm(u), ctx, doc))
            return Answer(201, rx_out(orm(u), rx).model_dump(mode="json"))
    except AppError as exc:
        return Answer(exc.status, exc.body())


def test_an_electronic_prescription_is_imported_with_the_same_checks(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    from server.services.catalog import items as catalog_service
    from tests.conftest import mapping_approval

    approval = mapping_approval(engine, ctx)
    with core_unit(engine) as u:
        catalog_service.update_item(u, ctx, shop["items"]["amox"], {"nhsa_code": "XJ01CAA000A000000009001",
                                                                    "insurance_category": "yi"}, approval)
    c, today = shop["client"], shop["clock"].today
    registry(c, shop["manager"])
    forged = c.post("/prescriptions/electronic", json=electronic(today), headers=shop["cashier"])
    assert forged.status_code in (404, 405)  # a client's own JSON is not an electronic prescription
    ok = import_electronic(shop, electronic(today))
    assert ok.status_code == 201, ok.json()
    body = ok.json()
    assert (body["source"], body["for_insurance"], body["lines"][0]["qty"]) == ("electronic", True, 2)
    missing = import_electronic(shop, electronic(today, hi_rxno=""))
    assert missing.status_code == 422 and missing.json()["details"]["field"] == "hi_rxno"
    unknown = import_electronic(shop, electronic(today, "XJ01CAA000A000000009999", hi_rxno="E2"))
    assert unknown.status_code == 404
    for junk in ({"rxdrugdetail": "x"}, {"rxdrugdetail": [1]}, electronic(today, hi_rxno="E3", age="forty"),
                 electronic(today, hi_rxno="E4", prsc_time="yesterday"), electronic(today, hi_rxno="E5", course=["x"]),
                 electronic(today, hi_rxno="E6", rxdrugdetail=[{**electronic(today)["rxdrugdetail"][0],
                                                                "drug_cnt": "99999999"}])):
        r = import_electronic(shop, junk)
        assert r.status_code == 422, (junk, r.json())


# --- the audit log ------------------------------------------------------------------------------------------------

@pytest.mark.refuses("ST-02", "SEC-04")
def test_prescriptions_and_reviews_are_audited_and_tampering_is_named(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    pharmacist_on_duty(shop)
    rx = enter(shop).json()
    review(shop, rx["id"])
    assert shop["client"].post(f"/prescriptions/{rx['id']}/print", headers=shop["manager"]).status_code == 201
    with read_session(engine) as s:
        assert verify(s, ctx.store_id).ok
    with behind_the_guard(engine, "prescription") as conn:  # the database refuses it: lifted, as its owner could
        conn.execute(text("UPDATE prescription SET patient_name = '王五' WHERE id = :i"), {"i": rx["id"]})
    with read_session(engine) as s:
        report = verify(s, ctx.store_id)
    assert [(p["table"], p["columns"]) for p in report.problems] == [("prescription", ["patient_name"])]


def test_rx08_a_review_slip_prints_for_the_record(shop: Shop, engine: Engine) -> None:
    from sqlmodel import select

    from server.db.models import PrintJob

    pharmacist_on_duty(shop)
    rx = enter(shop, patient_certno="110101199003071234").json()
    review(shop, rx["id"])
    r = shop["client"].post(f"/prescriptions/{rx['id']}/print", headers=shop["manager"])
    assert r.status_code == 201, r.text
    with read_session(engine) as s:
        job = s.exec(select(PrintJob).where(PrintJob.id == r.json()["print_job_id"])).one()
    assert job.kind == "rx_slip" and job.document["verdict"] == "审核通过"
    assert job.document["patient_id_masked"].endswith("1234") and "110101199003071234" not in str(job.document)


@pytest.mark.refuses("RX-07")
@pytest.mark.business_day
def test_rx07_a_prescription_that_expired_since_it_was_approved_dispenses_nothing(shop: Shop, engine: Engine) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 1)
    rx = prescribe(shop, sid, [(shop["items"]["amox"], 1, False)])
    with behind_the_guard(engine, "prescription") as conn:  # as if approved three days ago, the patient back today
        conn.execute(text("UPDATE prescription SET issued_on = :d WHERE id = :i"),
                     {"d": shop["clock"].today - timedelta(days=3), "i": rx["id"]})
    r = pay_cash(c, h, sid, 1250, 1250)
    assert r.status_code == 422 and r.json()["code"] == "RX-07" and "已过期" in r.json()["message_zh"]
