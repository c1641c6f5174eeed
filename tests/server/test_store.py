"""The store profile, the 医保协议 history (AGR-01/03) and registered tills (AGR-02, CARD-06)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.db.models import AgreementStatus
from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.errors import AppError
from server.rules.agreement import (
    AgreementStep,
    StoreStanding,
    card_settlement_refusals,
    span_refusals,
    standing_on,
    till_refusals,
)
from server.services.context import Ctx
from server.services.store import profile as store_service
from tests.conftest import (
    ROLE_PINS,
    Clock,
    add_second_insurance_admin,
    by_second_admin,
    login,
    second,
    second_asked,
)

TODAY = date(2026, 11, 22)


def _standing(**kw: Any) -> StoreStanding:
    base: dict[str, Any] = dict(agreement_status="active", agreement_start=TODAY - timedelta(days=30),
                agreement_end=TODAY + timedelta(days=300), drug_licence_no="粤AA1", drug_licence_expiry=TODAY + timedelta(days=1))
    return StoreStanding(**(base | kw))


def test_agr01_allows_an_active_agreement_with_a_valid_licence() -> None:
    assert card_settlement_refusals(_standing(), TODAY) == []


@pytest.mark.refuses("AGR-01")
@pytest.mark.parametrize("change", [
    {"agreement_status": "suspended"},
    {"agreement_status": "terminated"},
    {"agreement_status": "none"},
    {"agreement_end": TODAY - timedelta(days=1)},
    {"agreement_start": TODAY + timedelta(days=1)},
    {"drug_licence_expiry": TODAY - timedelta(days=1)},
    {"drug_licence_no": ""},
])
def test_agr01_refuses_the_card(change: dict[str, Any]) -> None:
    refusals = card_settlement_refusals(_standing(**change), TODAY)
    assert refusals and {v.rule for v in refusals} == {"AGR-01"}


@pytest.mark.refuses("AGR-01", "AGR-03")
@pytest.mark.business_day
def test_agreement_history_is_kept_and_transitions_are_checked(client: TestClient, headers: dict[str, dict[str, str]],
                                                               clock: Clock, engine: Engine, ctx: Ctx) -> None:
    h = headers["insurance_admin"]
    add_second_insurance_admin(engine, ctx)
    today = clock.today
    assert client.get("/store", headers=h).json()["agreement_status"] == "none"
    no_end = client.post("/store/agreement-events", json={"status": "active", "effective_on": today.isoformat()},
                         headers=h)
    assert no_end.status_code == 422 and no_end.json()["code"] == "AGR-03"
    signed = client.post("/store/agreement-events", json={
        "status": "active", "effective_on": today.isoformat(), "ends_on": (today + timedelta(days=365)).isoformat(),
        "agreement_no": "YB-1", "reason": "签订"}, headers=h)
    assert signed.status_code == 201, signed.text
    licence = client.patch("/store", json={"drug_licence_no": "粤AA1", "drug_licence_expiry": today.isoformat()},
                           headers=headers["manager"])
    assert licence.status_code == 200, licence.text
    # in force from today, the licence valid to today: the service's business day is the one the test names
    assert client.get("/store", headers=h).json()["card_settlement_refusals"] == []
    no_reason = client.post("/store/agreement-events", json={"status": "suspended", "effective_on": today.isoformat()},
                            headers=h)
    assert no_reason.status_code == 422
    client.post("/store/agreement-events", json={"status": "suspended", "effective_on": today.isoformat(),
                                                 "reason": "经办机构中止协议"}, headers=by_second_admin(client, h))
    store = client.get("/store", headers=h).json()
    assert store["agreement_status"] == "suspended"
    assert store["card_settlement_refusals"][0]["code"] == "AGR-01"
    client.post("/store/agreement-events", json={"status": "terminated", "effective_on": today.isoformat(),
                                                 "reason": "解除"}, headers=by_second_admin(client, h))
    back = client.post("/store/agreement-events", json={"status": "suspended", "effective_on": today.isoformat(),
                                                        "reason": "x"}, headers=by_second_admin(client, h))
    assert back.status_code == 409 and back.json()["code"] == "AGR-01"
    history = client.get("/store/agreement-events", headers=headers["manager"]).json()
    assert [e["status"] for e in history] == ["active", "suspended", "terminated"]


@pytest.mark.refuses("AGR-01")
@pytest.mark.business_day
def test_the_agencys_decision_needs_a_second_insurance_administrator(client: TestClient,
                                                                     headers: dict[str, dict[str, str]],
                                                                     engine: Engine, ctx: Ctx, clock: Clock) -> None:
    """A suspension, its lifting and a termination are recorded by one 医保 administrator and confirmed by
    another with their PIN: alone, naming themselves, with a wrong PIN or a person of another post — refused."""
    h, today = headers["insurance_admin"], clock.today
    other_admin = add_second_insurance_admin(engine, ctx)
    signed = client.post("/store/agreement-events", json={  # signing needs no second person
        "status": "active", "effective_on": (today - timedelta(days=10)).isoformat(),
        "ends_on": (today + timedelta(days=300)).isoformat()}, headers=h)
    assert signed.status_code == 201, signed.text
    suspension = {"status": "suspended", "effective_on": today.isoformat(), "reason": "经办机构中止协议"}
    for asked in (h, second(client, h, "u_insurance_admin", ROLE_PINS["insurance_admin"], "agreement.write"),
                  second(client, h, "u_manager", ROLE_PINS["manager"], "agreement.write")):
        alone = client.post("/store/agreement-events", json=suspension, headers=asked)
        assert alone.status_code == 403 and alone.json()["code"] == "AGR-01", alone.text
    wrong = second_asked(client, h, other_admin["confirm_username"], "0000", "agreement.write")
    assert wrong.status_code == 403 and "grant" not in wrong.json()
    assert client.get("/store", headers=h).json()["agreement_status"] == "active"
    confirmed = client.post("/store/agreement-events", json=suspension, headers=second(
        client, h, other_admin["confirm_username"], other_admin["confirm_pin"], "agreement.write"))
    assert confirmed.status_code == 201 and confirmed.json()["confirmed_by"] is not None
    lifted = {"status": "active", "effective_on": today.isoformat(), "reason": "恢复协议"}
    assert client.post("/store/agreement-events", json=lifted, headers=h).status_code == 403  # reinstatement too
    # the second administrator records it and the first confirms: two people, whichever way round
    other = login(client, other_admin["confirm_username"], other_admin["confirm_pin"])
    back = client.post("/store/agreement-events", json=lifted, headers=second(
        client, other, "u_insurance_admin", ROLE_PINS["insurance_admin"], "agreement.write"))
    assert back.status_code == 201, back.text
    assert client.get("/store", headers=h).json()["agreement_status"] == "active"


@pytest.mark.refuses("AGR-01")
@pytest.mark.business_day
def test_agreement_events_take_effect_on_their_effective_date(client: TestClient, headers: dict[str, dict[str, str]],
                                                              engine: Engine, ctx: Ctx, clock: Clock) -> None:
    """A suspension decided for next week is not in force today; a decision recorded late counts from its own date;
    none may be slipped in before the last one on record."""
    h, today = headers["insurance_admin"], clock.today
    add_second_insurance_admin(engine, ctx)
    client.patch("/store", json={"drug_licence_no": "粤AA1", "drug_licence_expiry": (today + timedelta(days=900)).isoformat()},
                 headers=headers["manager"])
    assert client.post("/store/agreement-events", json={
        "status": "active", "effective_on": (today - timedelta(days=30)).isoformat(),
        "ends_on": (today + timedelta(days=300)).isoformat()}, headers=h).status_code == 201
    ahead = client.post("/store/agreement-events", json={"status": "suspended", "reason": "下周起中止",
                                                         "effective_on": (today + timedelta(days=7)).isoformat()},
                        headers=by_second_admin(client, h))
    assert ahead.status_code == 201, ahead.text
    store = client.get("/store", headers=h).json()
    assert store["agreement_status"] == "active" and store["card_settlement_refusals"] == []
    earlier = client.post("/store/agreement-events", json={"status": "terminated", "reason": "倒签",
                                                           "effective_on": today.isoformat()}, headers=by_second_admin(client, h))
    assert earlier.status_code == 409 and earlier.json()["code"] == "AGR-01"
    with core_unit(engine) as u:
        assert store_service.standing(orm(u), ctx, store_service.get_store(orm(u), ctx),
                                      today + timedelta(days=7)).agreement_status == "suspended"


@pytest.mark.refuses("SEC-01")
def test_only_the_insurance_admin_records_agreement_events(client: TestClient,
                                                           headers: dict[str, dict[str, str]]) -> None:
    r = client.post("/store/agreement-events", json={"status": "active", "effective_on": "2026-01-01",
                                                     "ends_on": "2027-01-01"}, headers=headers["manager"])
    assert r.status_code == 403


@pytest.mark.refuses("CARD-06")
def test_tills_are_bound_to_the_store_and_its_site(engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        store_service.register_till(u, ctx, "T01", "1号台", "")
        assert store_service.usable_till(orm(u), ctx, "T01").code == "T01"
    with pytest.raises(AppError) as exc, core_unit(engine) as u:
        store_service.usable_till(orm(u), ctx, "T99")
    assert exc.value.code == "CARD-06" and exc.value.status == 403
    with core_unit(engine) as u:
        till = store_service.register_till(u, ctx, "T02", "2号台", "")
        store_service.retire_till(u, ctx, id_of(till), "设备报废")
    with pytest.raises(AppError) as exc, core_unit(engine) as u:
        store_service.usable_till(orm(u), ctx, "T02")
    assert exc.value.code == "CARD-06"


@pytest.mark.refuses("AGR-02")
def test_till_from_another_store_or_site_is_refused() -> None:
    assert till_refusals(2, "SITE-01", "active", 1, "SITE-01")[0].rule == "AGR-02"
    assert till_refusals(1, "SITE-02", "active", 1, "SITE-01")[0].rule == "AGR-02"
    assert till_refusals(1, "SITE-01", "active", 1, "SITE-01") == []


@pytest.mark.refuses("SEC-01")
def test_registering_tills_is_the_maintainers_job(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    ok = client.post("/tills", json={"code": "T05", "name": "5号台"}, headers=headers["sysadmin"])
    assert ok.status_code == 201 and ok.json()["site_code"] == "SITE-01"
    dup = client.post("/tills", json={"code": "T05"}, headers=headers["sysadmin"])
    assert dup.status_code == 409
    assert client.post("/tills", json={"code": "T06"}, headers=headers["cashier"]).status_code == 403


def test_profile_updates_are_audited(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    r = client.patch("/store", json={"drug_licence_no": "粤AA7550001", "drug_licence_expiry": "2028-01-01"},
                     headers=headers["manager"])
    assert r.status_code == 200 and r.json()["drug_licence_no"] == "粤AA7550001"
    entries = client.get("/audit", params={"limit": 500}, headers=headers["manager"]).json()
    upd = [e for e in entries if e["action"] == "store.update"][-1]
    assert upd["before"]["drug_licence_no"] == "" and upd["after"]["drug_licence_no"] == "粤AA7550001"
    assert client.get("/audit/verify", headers=headers["manager"]).json()["ok"] is True


def test_agreement_status_needs_a_known_value(engine: Engine, ctx: Ctx) -> None:
    with pytest.raises(AppError), core_unit(engine) as u:
        store_service.record_agreement_event(u, ctx, AgreementStatus.SUSPENDED, ctx.today, None, None, "x")


# --- the agreement over time: the effective date decides, the sale's own time counts (AGR-01) ---------------

D = TODAY
SIGNED = AgreementStep("active", D - timedelta(days=100), D + timedelta(days=265))


def _span(history: list[AgreementStep], first: date, last: date = D) -> list[str]:
    return [v.message_en for v in span_refusals(history, first, last, "粤AA1", D + timedelta(days=900))]


def test_agr01_standing_follows_the_events_by_their_effective_date() -> None:
    suspended = AgreementStep("suspended", D + timedelta(days=7), None)  # decided ahead of time
    assert standing_on([SIGNED, suspended], D, "粤AA1", None).agreement_status == "active"
    assert standing_on([SIGNED, suspended], D + timedelta(days=7), "粤AA1", None).agreement_status == "suspended"
    renewed = AgreementStep("active", D, D + timedelta(days=600))
    on = standing_on([SIGNED, renewed], D, "粤AA1", None)
    assert (on.agreement_start, on.agreement_end) == (SIGNED.effective_on, D + timedelta(days=600))


@pytest.mark.refuses("AGR-01")
def test_agr01_a_cost_incurred_during_a_suspension_is_never_settled() -> None:
    suspended = AgreementStep("suspended", D - timedelta(days=3), None)
    lifted = AgreementStep("active", D - timedelta(days=1), None)
    history = [SIGNED, suspended, lifted]
    assert _span(history, D) == []  # bought today, after the reinstatement
    assert _span(history, D - timedelta(days=2))  # opened during the suspension, settled after it: refused
    assert "opened on" in _span(history, D - timedelta(days=2))[0]
    assert _span(history, D - timedelta(days=5))  # open across the suspension: refused too
    same_day = [SIGNED, AgreementStep("suspended", D, None), AgreementStep("active", D, None)]
    assert _span(same_day, D)  # suspended and lifted the same day: that day's sales are not settled
    assert _span([SIGNED, AgreementStep("suspended", D, None)], D)
