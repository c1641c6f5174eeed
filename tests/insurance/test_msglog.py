"""Every message sent and received is kept whole in the store's database; logs show it masked (SEC-06)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from server.db.models import InsuranceMessage
from server.db.uow import read_session
from server.insurance import messages as m
from server.insurance import wire
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.msglog import masked, messages_for
from server.insurance.sandbox.client import SandboxAdmin
from server.privacy import mask_id
from server.services.context import Ctx
from tests.conftest import BACKENDS
from tests.insurance.conftest import EMPLOYEE, for_person, line, purchase


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def test_every_exchange_is_kept_whole(gateway: HttpGateway, signed_in: Caller, sandbox: SandboxAdmin,
                                      engine: Engine, ctx: Ctx) -> None:
    caller = for_person(signed_in, EMPLOYEE)
    person = gateway.person_info(caller, m.PersonQuery.by_id_number(EMPLOYEE.certno, EMPLOYEE.name))
    pre = gateway.pre_settle(caller, purchase(EMPLOYEE, [line(1, "jia", 1000)], cert="id"))
    msgids = [person.receipt.msgid, pre.receipt.msgid]
    with read_session(engine) as s:
        rows = list(s.exec(select(InsuranceMessage).order_by(col(InsuranceMessage.id))))
        assert [(r.infno, r.direction, r.outcome) for r in rows] == [
            ("9001", "out", "sent"), ("9001", "in", "ok"), ("1101", "out", "sent"), ("1101", "in", "ok"),
            ("2101", "out", "sent"), ("2101", "in", "ok")]
        assert all(r.store_id == ctx.store_id and r.opter == "cashier1" for r in rows)
        for msgid in msgids:
            out, back = messages_for(s, ctx.store_id, msgid)
            delivered = sandbox.deliveries(msgid=msgid)[0]
            assert wire.loads(out.body) == wire.loads(delivered["body"])  # what left is what arrived
            assert back.body == delivered["answer"]  # what came back, byte for byte
            assert back.inf_refmsgid == wire.loads(delivered["answer"])["inf_refmsgid"]
            assert back.elapsed_ms is not None and back.at >= out.at
        # whole in the database: the identity number is there unmasked, for a dispute with the agency
        assert EMPLOYEE.certno in messages_for(s, ctx.store_id, person.receipt.msgid)[0].body


def test_logs_mask_identity_numbers(gateway: HttpGateway, signed_in: Caller,
                                    caplog: pytest.LogCaptureFixture) -> None:
    """SEC-06: certno, card numbers, card identification codes and e-voucher tokens never reach a log whole."""
    caller = for_person(signed_in, EMPLOYEE)
    with caplog.at_level(logging.INFO, logger="dingdian.insurance"):
        gateway.person_info(caller, m.PersonQuery.by_card(EMPLOYEE.card_no, EMPLOYEE.card_sn,
                                                          certno=EMPLOYEE.certno))
        gateway.pre_settle(caller, purchase(EMPLOYEE, [line(1, "jia", 1000)], cert="ec"))
    text = caplog.text
    assert "→ 1101" in text and "← 1101" in text and "→ 2101" in text and "← 2101" in text
    for secret in (EMPLOYEE.certno, EMPLOYEE.card_sn, EMPLOYEE.ec_token):
        assert secret not in text
    assert mask_id(EMPLOYEE.certno) in text and mask_id(EMPLOYEE.ec_token) in text


def test_masking_walks_nested_nodes() -> None:
    doc: dict[str, Any] = {"input": {"data": {"certno": "440305197503140251", "psn_name": "张建国"},
                     "rows": [{"card_sn": "440300D1560000050050640776EF3192"}]}}
    out = masked(doc)
    assert out["input"]["data"] == {"certno": "4403**********0251", "psn_name": "张建国"}
    assert out["input"]["rows"][0]["card_sn"] == mask_id("440300D1560000050050640776EF3192")
    assert doc["input"]["data"]["certno"] == "440305197503140251"  # the original is untouched
