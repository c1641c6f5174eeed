"""A real sandbox centre on a loopback port (one per test session, reset before each test), the
store's settings pointed at it, and gateways built the way the service builds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from server.config import Settings
from server.insurance import messages as m
from server.insurance.factory import make_gateway
from server.insurance.gateway import Caller
from server.insurance.http_adapter import HttpGateway
from server.insurance.sandbox.client import SandboxAdmin
from server.insurance.sandbox.persons import DEMO_PERSONS, DemoPerson
from server.services.context import Ctx
from tests.conftest import make_settings

EMPLOYEE, RETIREE, RESIDENT, ELDER, NONLOCAL, SUSPENDED = DEMO_PERSONS


@pytest.fixture
def backend() -> str:
    """The gateway's own tables are checked on both backends in test_msgid / test_msglog; the rest on SQLite."""
    return "sqlite"


@pytest.fixture
def settings(db_url: str, sandbox_url: str) -> Settings:
    return make_settings(db_url, insurance={"url": sandbox_url, "timeout_seconds": 2})


@pytest.fixture
def gateway(settings: Settings, engine: Engine, ctx: Ctx, sandbox: SandboxAdmin) -> Iterator[HttpGateway]:
    gw = make_gateway(settings, engine, ctx.store_id)
    yield gw
    gw.close()


OPERATOR = Caller("cashier1", "王收银")


@pytest.fixture
def signed_in(gateway: HttpGateway) -> Caller:
    """The operator signed in today (9001): the caller later transactions carry."""
    result = gateway.sign_in(OPERATOR, "00:1A:2B:3C:4D:5E", "127.0.0.1")
    return Caller(OPERATOR.opter, OPERATOR.opter_name, result.sign_no)


# --- a purchase ------------------------------------------------------------------------------------

# Codes the sandbox's directory classifies (the demo catalog's 甲 / 乙 / 丙 items) and one off-list code. The
# centre wants the trace codes of a traced product: CODES are of products without (the test shop's items carry
# none unless a test says so); TRACED_CODES of products with (the demo catalog's traced ones).
def demo_codes(traced: bool = False) -> dict[str, str]:
    from catalog.classes import InsuranceCategory
    from catalog.demo_data import demo_items

    out: dict[str, str] = {}
    for item in demo_items():
        if item.nhsa_code and item.traced is traced and item.insurance_category.value not in out:
            out[item.insurance_category.value] = item.nhsa_code
    assert set(out) == {InsuranceCategory.JIA.value, InsuranceCategory.YI.value, InsuranceCategory.BING.value}
    out["none"] = "XZ99ZZZ999A999999999999"  # no such code: off-list
    return out


CODES = demo_codes()
TRACED_CODES = demo_codes(traced=True)
SALE_TIME = datetime(2026, 3, 2, 10, 30, 0)


def line(sn: int, category: str, price_fen: int, qty: int = 1) -> m.DrugDetail:
    return m.DrugDetail(feedetl_sn=str(sn), fee_ocur_time=SALE_TIME, med_list_codg=CODES[category],
                        medins_list_codg=f"YP{sn:06d}", det_item_fee_sumamt_fen=price_fen * qty, cnt=Decimal(qty),
                        pric_fen=price_fen)


def purchase(person: DemoPerson, lines: list[m.DrugDetail], acct_used: bool = True,
             cert: str = "card") -> m.SettleRequest:
    cert_type, cert_no = {"card": ("03", person.card_no), "ec": ("01", person.ec_token),
                          "id": ("02", person.certno)}[cert]
    return m.SettleRequest(
        druginfo=m.DrugInfo(psn_no=person.psn_no, mdtrt_cert_type=cert_type, mdtrt_cert_no=cert_no,
                            card_sn=person.card_sn if cert == "card" else "", psn_cert_type="01",
                            certno=person.certno, psn_type=person.psn_type, psn_name=person.name,
                            begntime=SALE_TIME, medfee_sumamt_fen=sum(d.det_item_fee_sumamt_fen for d in lines),
                            insutype=person.insutype, acct_used_flag="1" if acct_used else "0"),
        drugdetail=lines)


def for_person(caller: Caller, person: DemoPerson) -> Caller:
    return caller.with_insuplc(person.insuplc_admdvs)
