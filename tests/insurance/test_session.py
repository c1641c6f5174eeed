"""Sign-in at the start of the day, sign-out at its end, and no settlement without a current sign-in,
through the service's API and the use case the settlement flow calls (reference §1.4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import col, select

from server.audit import Actor, verify
from server.db.models import AuditEntry, InsuranceSignIn, User
from server.db.uow import core_unit, orm, read_session
from server.errors import AppError
from server.insurance import messages as m
from server.insurance.sandbox.client import SandboxAdmin
from server.services.context import Ctx
from server.services.insurance import sign_in as insurance_session
from tests.conftest import ROLE_PINS, Clock, add_role_users, login, service_gateway, service_state
from tests.insurance.conftest import EMPLOYEE, for_person, line, purchase


@pytest.fixture
def staff(client: TestClient, engine: Engine, ctx: Ctx, sandbox: SandboxAdmin) -> dict[str, dict[str, str]]:
    add_role_users(engine, ctx)
    return {role: login(client, f"u_{role}", pin) for role, pin in ROLE_PINS.items()}


def _as(engine: Engine, ctx: Ctx, username: str) -> Ctx:
    with read_session(engine) as s:
        user = s.exec(select(User).where(User.username == username)).one()
    return ctx.acting(Actor(user.id, user.username))


@pytest.mark.business_day
def test_sign_in_status_and_sign_out(client: TestClient, staff: dict[str, dict[str, str]], sandbox: SandboxAdmin,
                                     engine: Engine, ctx: Ctx, clock: Clock) -> None:
    cashier = staff["cashier"]
    assert client.get("/insurance/status", headers=cashier).json()["signed_in"] is False
    r = client.post("/insurance/sign-in", headers=cashier, json={"mac": "00:1A:2B:3C:4D:5E", "ip": "10.0.0.8"})
    assert r.status_code == 201, r.text
    signed = r.json()
    assert signed["opter"] == "u_cashier" and signed["opter_name"] == "测试cashier" and len(signed["sign_no"]) == 30
    (centre_side,) = sandbox.sign_ins()
    assert (centre_side["sign_no"], centre_side["opter"], centre_side["mac"], centre_side["ip"]) == (
        signed["sign_no"], "u_cashier", "00:1A:2B:3C:4D:5E", "10.0.0.8")

    status = client.get("/insurance/status", headers=cashier).json()
    assert status["signed_in"] is True and status["mine"]["sign_no"] == signed["sign_no"]
    # the sign-in is of the store's business day, here and at the centre
    assert status["business_date"] == status["mine"]["business_date"] == centre_side["sign_date"] == clock.today.isoformat()
    assert [o["opter"] for o in status["operators"]] == ["u_cashier"]
    # the pharmacist has not signed in: the status is per operator
    assert client.get("/insurance/status", headers=staff["pharmacist"]).json()["signed_in"] is False
    # the tills' status bar got the store's state
    state = service_state(client).events.states_for("T01")["insurance"]
    assert state["signed_in"] is True and state["operators"][0]["opter"] == "u_cashier"

    with read_session(engine) as s:
        assert insurance_session.require_signed_in(s, _as(engine, ctx, "u_cashier")) == signed["sign_no"]

    out = client.post("/insurance/sign-out", headers=cashier)
    assert out.status_code == 200, out.text
    assert out.json()["signed_out_at"] and out.json()["sign_no"] == signed["sign_no"]
    assert sandbox.sign_ins()[0]["signed_out_at"]
    assert client.get("/insurance/status", headers=cashier).json()["signed_in"] is False
    assert service_state(client).events.states_for("T01")["insurance"]["signed_in"] is False
    with read_session(engine) as s:
        actions = [e.action for e in s.exec(select(AuditEntry).order_by(col(AuditEntry.seq)))]
        # (each message with the centre is imaged too, in an entry of its own: left out here)
        assert [a for a in actions if not a.startswith("insurance.message.")][-2:] == ["insurance.sign_in",
                                                                                      "insurance.sign_out"]
        assert verify(s, ctx.store_id).ok


def test_settlement_is_refused_without_a_sign_in_of_today(client: TestClient, staff: dict[str, dict[str, str]],
                                                         engine: Engine, ctx: Ctx) -> None:
    """INS-SIGNIN (reference §1.4 签到之后才能调用其他交易): no sign-in, yesterday's, or signed out."""
    me = _as(engine, ctx, "u_cashier")
    with read_session(engine) as s, pytest.raises(AppError) as refused:
        insurance_session.require_signed_in(s, me)
    assert (refused.value.status, refused.value.code) == (409, "INS-SIGNIN")
    assert "签到" in refused.value.message_zh and "sign in" in refused.value.message_en

    assert client.post("/insurance/sign-in", headers=staff["cashier"]).status_code == 201
    tomorrow = type(me)(me.store_id, me.settings, me.actor, me.now + timedelta(days=1))
    with read_session(engine) as s:
        assert insurance_session.require_signed_in(s, me)
        with pytest.raises(AppError, match="sign in before settling"):
            insurance_session.require_signed_in(s, tomorrow)  # a sign-in counts for its own business day
        with pytest.raises(AppError):
            insurance_session.require_signed_in(s, _as(engine, ctx, "u_pharmacist"))  # and for its own operator


def test_the_sign_no_is_what_the_centre_expects(client: TestClient, staff: dict[str, dict[str, str]],
                                                engine: Engine, ctx: Ctx, sandbox: SandboxAdmin) -> None:
    """The settlement flow's path: require_signed_in → caller_for → the gateway; the centre accepts it."""
    assert client.post("/insurance/sign-in", headers=staff["pharmacist"]).status_code == 201
    me = _as(engine, ctx, "u_pharmacist")
    with read_session(engine) as s:
        caller = insurance_session.caller_for(s, me, insurance_session.require_signed_in(s, me))
    gateway = service_gateway(client)
    pre = gateway.pre_settle(for_person(caller, EMPLOYEE), purchase(EMPLOYEE, [line(1, "jia", 1000)]))
    assert pre.setlinfo.medfee_sumamt_fen == 1000
    with core_unit(engine) as u:  # the settlement flow's intent: the msgid commits with it
        msgid = insurance_session.settlement_msgid(u, me)
    assert msgid.startswith("P44030000001") and len(msgid) == 30
    done = gateway.settle(for_person(caller, EMPLOYEE), purchase(EMPLOYEE, [line(1, "jia", 1000)]), msgid)
    assert done.setlinfo.medins_setl_id == msgid and sandbox.settlements()[0]["msgid"] == msgid
    assert gateway.person_info(caller, m.PersonQuery.by_ec_token(EMPLOYEE.ec_token)).baseinfo.psn_no == EMPLOYEE.psn_no


def test_a_refused_or_failed_sign_in_records_nothing(client: TestClient, staff: dict[str, dict[str, str]],
                                                     sandbox: SandboxAdmin, engine: Engine) -> None:
    sandbox.inject("refuse_sign_in")
    r = client.post("/insurance/sign-in", headers=staff["cashier"])
    assert r.status_code == 422 and r.json()["code"] == "INS-REFUSED" and "签到被拒绝" in r.json()["message_zh"]
    sandbox.inject("http_status", "9001", status=503)
    r = client.post("/insurance/sign-in", headers=staff["cashier"])
    assert r.status_code == 424 and r.json()["code"] == "INS-LOST"
    with read_session(engine) as s:
        assert s.exec(select(InsuranceSignIn)).all() == []
    r = client.post("/insurance/sign-out", headers=staff["cashier"])
    assert r.status_code == 409 and r.json()["code"] == "INS-SIGNIN"


@pytest.mark.refuses("SEC-01", "SEC-02")
def test_who_may_sign_in(client: TestClient, staff: dict[str, dict[str, str]]) -> None:
    """SEC-02: the maintainer never settles, so never signs in; the manager reads the state only."""
    assert client.post("/insurance/sign-in", headers=staff["sysadmin"]).status_code == 403
    assert client.post("/insurance/sign-in", headers=staff["manager"]).status_code == 403
    assert client.get("/insurance/status", headers=staff["manager"]).status_code == 200
    assert client.post("/insurance/sign-in", headers=staff["insurance_admin"]).status_code == 201
    assert client.post("/insurance/sign-in", json={"mac": "x" * 21}, headers=staff["cashier"]).status_code == 422


def test_the_system_actor_cannot_sign_in(engine: Engine, ctx: Ctx, sandbox: SandboxAdmin) -> None:
    from server.insurance.factory import make_gateway

    gw = make_gateway(ctx.settings, engine, ctx.store_id)
    with pytest.raises(AppError) as refused:
        insurance_session.sign_in(engine, ctx, gw, "00:00:00:00:00:00", "127.0.0.1")
    gw.close()
    assert refused.value.code == "INS-OPERATOR" and sandbox.sign_ins() == []
    with core_unit(engine) as u:
        assert orm(u).exec(select(InsuranceSignIn)).all() == []
