"""Every fault the sandbox injects is observable through the adapter as the right typed error, and
the sandbox's own ledger shows what really happened — so the settlement flow can tell "certainly
not settled" from "uncertain" and resolve the latter with 2601."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from server.config import Settings
from server.db.models import InsuranceMessage
from server.db.uow import read_session
from server.insurance import messages as m
from server.insurance.errors import (
    AnswerLost,
    CentreRefused,
    CentreTimeout,
    CentreUnreachable,
    GatewayError,
    TransportRefused,
)
from server.insurance.factory import make_gateway
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from server.services.context import Ctx
from tests.conftest import make_settings
from tests.insurance.conftest import EMPLOYEE, OPERATOR, for_person, line, purchase
from tests.service import free_port


def _outcomes(engine: Engine, msgid: str) -> list[tuple[str, str]]:
    with read_session(engine) as s:
        return [(r.direction, r.outcome) for r in s.exec(
            select(InsuranceMessage).where(InsuranceMessage.msgid == msgid).order_by(col(InsuranceMessage.id)))]


def _settle(gateway: HttpGateway, caller: Caller) -> tuple[str, GatewayError | None]:
    msgid = gateway.new_msgid()
    try:
        gateway.settle(for_person(caller, EMPLOYEE), purchase(EMPLOYEE, [line(1, "jia", 2000)]), msgid)
    except GatewayError as exc:
        return msgid, exc
    return msgid, None


def test_delay_past_the_timeout_is_uncertain_and_the_centre_did_settle(
        gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin, engine: Engine) -> None:
    sandbox.inject("delay", "2102", delay_ms=2600)  # the gateway waits 2 s
    msgid, exc = _settle(gateway, signed_in)
    assert isinstance(exc, CentreTimeout) and exc.uncertain and exc.msgid == msgid
    assert _outcomes(engine, msgid) == [("out", "sent"), ("in", "timeout")]
    deadline = time.monotonic() + 5
    while not sandbox.settlements() and time.monotonic() < deadline:
        time.sleep(0.1)
    (row,) = sandbox.settlements()
    assert row["msgid"] == msgid and row["status"] == "active"  # the centre acted after the store gave up
    gateway.reverse(for_person(signed_in, EMPLOYEE), m.ReversalRequest(psn_no=EMPLOYEE.psn_no, omsgid=msgid,
                                                                       oinfno="2102"))
    assert sandbox.settlements()[0]["status"] == "reversed"
    assert sandbox.person(EMPLOYEE.psn_no)["balc_fen"] == EMPLOYEE.balance_fen


def test_a_short_delay_is_just_slow(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin) -> None:
    sandbox.inject("delay", "2102", delay_ms=300)
    started = time.monotonic()
    _, exc = _settle(gateway, signed_in)
    assert exc is None and time.monotonic() - started >= 0.3
    assert len(sandbox.settlements()) == 1


def test_answer_dropped_after_the_commit_is_uncertain(gateway: HttpGateway, signed_in: Caller,
                                                      sandbox: SandboxAdmin, engine: Engine) -> None:
    sandbox.inject("drop", "2102")
    msgid, exc = _settle(gateway, signed_in)
    assert isinstance(exc, AnswerLost) and exc.uncertain
    assert _outcomes(engine, msgid) == [("out", "sent"), ("in", "lost")]
    (row,) = sandbox.settlements()
    assert row["msgid"] == msgid  # settled, though the store never heard
    # resolving by resending the same msgid gets the centre's first answer, and books nothing new
    again = gateway.settle(for_person(signed_in, EMPLOYEE), purchase(EMPLOYEE, [line(1, "jia", 2000)]), msgid)
    assert again.setlinfo.setl_id == row["setl_id"] and len(sandbox.settlements()) == 1


def test_a_garbled_answer_is_uncertain(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin,
                                       engine: Engine) -> None:
    sandbox.inject("garble", "2102")
    msgid, exc = _settle(gateway, signed_in)
    assert isinstance(exc, AnswerLost) and exc.uncertain and "unreadable" in str(exc)
    assert _outcomes(engine, msgid)[-1] == ("in", "lost")
    assert len(sandbox.settlements()) == 1


def test_a_message_delivered_twice_is_settled_once(gateway: HttpGateway, signed_in: Caller,
                                                   sandbox: SandboxAdmin) -> None:
    sandbox.inject("twice", "2102")
    msgid, exc = _settle(gateway, signed_in)
    assert exc is None
    assert len(sandbox.deliveries(msgid=msgid)) == 2  # the centre saw it twice
    (row,) = sandbox.settlements()  # and booked it once
    assert sandbox.person(EMPLOYEE.psn_no)["balc_fen"] == EMPLOYEE.balance_fen - row["acct_fen"]


def test_an_injected_error_code_is_a_refusal_and_nothing_is_booked(
        gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin, engine: Engine) -> None:
    sandbox.inject("error", "2102", infcode=-1, err_msg="基金支付限额已满")
    msgid, exc = _settle(gateway, signed_in)
    assert isinstance(exc, CentreRefused) and not exc.uncertain
    assert exc.infcode == -1 and exc.err_msg == "基金支付限额已满"
    body = exc.to_app_error().body()
    assert body["code"] == "INS-REFUSED" and "基金支付限额已满" in body["message_zh"]
    assert _outcomes(engine, msgid) == [("out", "sent"), ("in", "refused")]
    assert sandbox.settlements() == []
    assert sandbox.faults()["applied"] == [{"kind": "error", "infno": "2102", "msgid": msgid}]


def test_a_refused_sign_in(gateway: HttpGateway, sandbox: SandboxAdmin) -> None:
    sandbox.inject("refuse_sign_in")
    with pytest.raises(CentreRefused, match="签到被拒绝"):
        gateway.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1")
    assert sandbox.sign_ins() == []
    assert gateway.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1").sign_no  # used up: the next one passes


def test_a_gateway_5xx_is_uncertain_and_a_4xx_is_not(gateway: HttpGateway, signed_in: Caller,
                                                     sandbox: SandboxAdmin) -> None:
    sandbox.inject("http_status", "2102", status=502)
    _, exc = _settle(gateway, signed_in)
    assert isinstance(exc, AnswerLost) and exc.uncertain and "HTTP 502" in str(exc)
    sandbox.inject("http_status", "2102", status=401)
    _, exc = _settle(gateway, signed_in)
    assert isinstance(exc, TransportRefused) and not exc.uncertain
    assert sandbox.settlements() == []


def test_faults_apply_to_their_transaction_only_and_count_down(gateway: HttpGateway, signed_in: Caller,
                                                              sandbox: SandboxAdmin) -> None:
    sandbox.inject("error", "2102", times=2)
    person = gateway.person_info(signed_in, m.PersonQuery.by_ec_token(EMPLOYEE.ec_token))  # 1101 untouched
    assert person.baseinfo.psn_no == EMPLOYEE.psn_no
    assert isinstance(_settle(gateway, signed_in)[1], CentreRefused)
    assert isinstance(_settle(gateway, signed_in)[1], CentreRefused)
    assert _settle(gateway, signed_in)[1] is None
    assert sandbox.faults()["pending"] == []


def test_an_unreachable_centre_is_certain_not_settled(db_url: str, engine: Engine, ctx: Ctx) -> None:
    settings: Settings = make_settings(db_url, insurance={"url": f"http://127.0.0.1:{free_port()}"})
    gw = make_gateway(settings, engine, ctx.store_id)
    try:
        with pytest.raises(CentreUnreachable) as exc:
            gw.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1")
    finally:
        gw.close()
    assert not exc.value.uncertain
    assert exc.value.to_app_error().status == 424 and exc.value.to_app_error().code == "INS-UNREACHABLE"
    assert _outcomes(engine, exc.value.msgid) == [("out", "sent"), ("in", "unreachable")]
