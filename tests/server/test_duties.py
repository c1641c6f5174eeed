"""Separation of duties by person, not by account (SEC-01, SEC-02, SEC-03): the walk-arounds, refused.

The store's amount above which a same-day refund or void needs a second person is set low here (¥10), so the
test shop's goods reach it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server.audit import verify
from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit, orm, read_session
from server.errors import AppError
from server.roles import Role
from server.rules.duties import SecondPerson, grant_approval_refusal, person_key, second_person_refusal
from server.services.context import Ctx
from server.services.store import users
from tests.conftest import (
    BARCODE_MASK,
    BARCODE_VITC,
    ROLE_PINS,
    Shop,
    login,
    make_settings,
    second,
    second_asked,
    till_login,
)

THRESHOLD = 1000  # fen
ID_A, ID_B, ID_C = "110101199003070011", "110101198505050022", "11010119770707003X"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, rules={"second_person_above_fen": THRESHOLD, "report_deadline_day": 10})


def _provision(engine: Engine, ctx: Ctx, username: str, pin: str, roles: set[Role], id_number: str = "") -> int:
    with core_unit(engine) as u:
        user = users.add_user(u, ctx, username, username, pin, roles, id_number)
        return id_of(user)


def _owner_of(engine: Engine, ctx: Ctx, username: str, id_number: str) -> None:
    """The staff record of a fixture's account names its owner."""
    with core_unit(engine) as u:
        users.set_staff_profile(u, ctx, id_of(users.find_user(orm(u), ctx, username)),
                                {"id_number": id_number})


def _me(client: TestClient, h: dict[str, str]) -> dict[str, Any]:
    return client.get("/auth/me", headers=h).json()


# --- SEC-01: nobody chooses another's PIN; a post lives once someone else approves it -----------------------


@pytest.mark.refuses("SEC-01")
def test_sec01_an_administrator_cannot_make_a_cashier_with_a_known_pin_and_sell(shop: Shop) -> None:
    c, admin = shop["client"], login(shop["client"], "u_sysadmin", ROLE_PINS["sysadmin"])
    with_pin = c.post("/users", json={"username": "fake", "display_name": "假收银", "id_number": ID_A,
                                      "roles": ["cashier"], "pin": "1234"}, headers=admin)
    assert with_pin.status_code == 422  # no API takes someone else's PIN
    made = c.post("/users", json={"username": "fake", "display_name": "假收银", "id_number": ID_A,
                                  "roles": ["cashier"]}, headers=admin)
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["roles"] == [] and out["pending_roles"] == ["cashier"] and out["needs_first_pin"]
    assert "code" not in made.text and ID_A not in made.text
    no_pin = c.post("/auth/login", json={"username": "fake", "pin": "1234", "till_code": "T01"})
    assert no_pin.status_code == 403 and no_pin.json()["code"] == "AUTH_FIRST_PIN"
    guessed = c.post("/auth/first-pin", json={"username": "fake", "code": "0000000000", "pin": "1234"})
    assert guessed.status_code == 401
    grant = c.get("/users/requests", headers=admin).json()[0]
    own = c.post(f"/users/requests/{grant['id']}/approve", headers=admin)  # the requester approving
    assert own.status_code == 403 and own.json()["code"] == "SEC-01"
    code = c.post(f"/users/{out['id']}/one-time-code", headers=admin)
    assert code.status_code == 403 and code.json()["code"] == "SEC-01"
    # still nothing the administrator can log in with, let alone sell
    assert c.post("/auth/login", json={"username": "fake", "pin": "1234", "till_code": "T01"}).status_code == 403
    # the lawful way: the manager approves and hands the code to the owner, who sets their own PIN
    approved = c.post(f"/users/requests/{grant['id']}/approve", headers=shop["manager"])
    assert approved.status_code == 200, approved.text
    one_time = approved.json()["one_time_code"]
    assert one_time and len(one_time) == 10
    assert c.post("/auth/first-pin", json={"username": "fake", "code": one_time, "pin": "8642"}).status_code == 204
    reused = c.post("/auth/first-pin", json={"username": "fake", "code": one_time, "pin": "1234"})
    assert reused.status_code == 401  # the code is spent
    owner = till_login(c, "fake", "8642")
    sid = str(uuid.uuid4())
    assert c.post("/sales", json={"id": sid}, headers=owner).status_code == 201


@pytest.mark.refuses("SEC-01")
def test_sec01_a_grant_approved_by_its_grantee_or_its_requester_is_refused(client: TestClient, engine: Engine,
                                                                          ctx: Ctx,
                                                                          headers: dict[str, dict[str, str]]) -> None:
    # one person (ID_B) with two manager accounts; another manager approves nothing of theirs here
    grantee = _provision(engine, ctx, "m2a", "5151", {Role.MANAGER}, ID_B)
    _provision(engine, ctx, "m2b", "5252", {Role.MANAGER}, ID_B)
    asked = client.post(f"/users/{grantee}/posts", json={"role": "insurance_admin"}, headers=headers["sysadmin"])
    assert asked.status_code == 201 and asked.json()["pending"], asked.text
    gid = asked.json()["id"]
    by_grantee = client.post(f"/users/requests/{gid}/approve", headers=login(client, "m2a", "5151"))
    assert by_grantee.status_code == 422 and by_grantee.json()["details"]["who"] == "grantee"
    by_second_account = client.post(f"/users/requests/{gid}/approve", headers=login(client, "m2b", "5252"))
    assert by_second_account.status_code == 422 and by_second_account.json()["details"]["who"] == "grantee"
    by_requester = client.post(f"/users/requests/{gid}/approve", headers=headers["sysadmin"])
    assert by_requester.status_code == 403 and by_requester.json()["code"] == "SEC-01"
    m2a = login(client, "m2a", "5151")
    assert "insurance_admin" not in _me(client, m2a)["roles"]  # a request gives no right
    ok = client.post(f"/users/requests/{gid}/approve", headers=headers["manager"])
    assert ok.status_code == 200 and ok.json()["one_time_code"] is None  # the account has its PIN already
    assert "insurance_admin" in _me(client, login(client, "m2a", "5151"))["roles"]
    # the rule itself, by person: a requester who is also the approver is refused
    assert grant_approval_refusal("id:X", "id:X", "id:Y") is not None
    assert grant_approval_refusal("id:Z", "id:X", "id:Y") is None
    with read_session(engine) as s:
        assert verify(s, ctx.store_id).ok


# --- SEC-02: one person, never a maintainer's account and an operational one ------------------------------


@pytest.mark.refuses("SEC-02")
def test_sec02_one_person_never_holds_a_maintainer_and_an_operational_account(
        client: TestClient, engine: Engine, ctx: Ctx, headers: dict[str, dict[str, str]]) -> None:
    admin = headers["sysadmin"]
    ops = client.post("/users", json={"username": "ops1", "display_name": "甲", "id_number": ID_C,
                                      "roles": ["cashier"]}, headers=admin)
    assert ops.status_code == 201
    # the same person's maintainer account, by a second account with the same ID number (lower-case x too)
    sys2 = client.post("/users", json={"username": "sys2", "display_name": "甲", "id_number": ID_C.lower(),
                                       "roles": ["sysadmin"]}, headers=admin)
    assert sys2.status_code == 422 and sys2.json()["code"] == "SEC-02", sys2.text
    assert ID_C not in sys2.text and "1101**********003X" in sys2.text  # masked wherever shown
    # a second staff record with the same ID number on an existing maintainer's account
    me = _me(client, admin)
    moved = client.put(f"/users/{me['id']}/staff", json={"id_number": ID_C}, headers=headers["manager"])
    assert moved.status_code == 422 and moved.json()["code"] == "SEC-02"
    # a post requested for the person's other account
    other = _provision(engine, ctx, "ops2", "6161", {Role.PHARMACIST}, ID_A)
    asked = client.post(f"/users/{other}/posts", json={"role": "sysadmin"}, headers=admin)
    assert asked.status_code == 422 and asked.json()["code"] == "SEC-02"
    # provisioning (the demo, the bootstrap) refuses it too
    with pytest.raises(AppError) as exc, core_unit(engine) as u:
        users.add_user(u, ctx, "sys3", "乙", "7171", {Role.SYSADMIN}, ID_A)
    assert exc.value.code == "SEC-02"
    # an account's owner never changes: a cleared or another number does not take it away from its person
    again = client.put(f"/users/{other}/staff", json={"id_number": ID_B}, headers=headers["manager"])
    assert again.status_code == 409 and again.json()["code"] == "SEC-01"
    with read_session(engine) as s:
        assert users.person_of(s, other) == person_key(ID_A, other)


# --- SEC-03: a revoked post, a transfer: the old rights end at once, open sessions included -----------------


@pytest.mark.refuses("SEC-03")
def test_sec03_a_revoked_posts_open_session_is_refused_at_once(shop: Shop) -> None:
    c, cashier = shop["client"], shop["cashier"]
    sid = str(uuid.uuid4())
    assert c.post("/sales", json={"id": sid}, headers=cashier).status_code == 201
    me = _me(c, cashier)
    revoked = c.post(f"/users/{me['id']}/posts/cashier/revoke", json={"reason": "调岗"}, headers=shop["manager"])
    assert revoked.status_code == 200 and revoked.json()["roles"] == []
    scan = c.post(f"/sales/{sid}/lines", json={"barcode": BARCODE_MASK, "qty": 1}, headers=cashier)
    assert scan.status_code == 401  # the open session ended with the post
    again = c.post("/auth/login", json={"username": "u_cashier", "pin": ROLE_PINS["cashier"], "till_code": "T01"})
    assert again.status_code == 200 and again.json()["user"]["roles"] == []
    h = {"Authorization": f"Bearer {again.json()['token']}"}
    refused = c.post("/sales", json={"id": str(uuid.uuid4())}, headers=h)
    assert refused.status_code == 403 and refused.json()["code"] == "SEC-01"


@pytest.mark.refuses("SEC-03", "SEC-01")
def test_sec03_a_transfer_ends_the_old_post_at_once_and_the_new_one_waits_for_approval(
        shop: Shop, engine: Engine, ctx: Ctx) -> None:
    from tests.conftest import pharmacist_on_duty

    c, ph = shop["client"], shop["pharmacist"]
    pharmacist_on_duty(shop)
    me = _me(c, ph)
    admin = login(c, "u_sysadmin", ROLE_PINS["sysadmin"])
    moved = c.post(f"/users/{me['id']}/transfer", json={"roles": ["cashier"], "reason": "调往收银岗"}, headers=admin)
    assert moved.status_code == 200 and [g["role"] for g in moved.json()] == ["cashier"]
    assert moved.json()[0]["pending"]
    assert c.get("/auth/me", headers=ph).status_code == 401  # the pharmacist's session ended at once
    h = till_login(c, "u_pharmacist", ROLE_PINS["pharmacist"])
    assert _me(c, h)["roles"] == []
    duty = c.post(f"/shifts/{shop['shift_id']}/duty", headers=h)
    assert duty.status_code == 403 and duty.json()["code"] == "SEC-01"
    with engine.connect() as conn:  # the duty ended with the post (RX-10 counts them no more)
        open_duties = conn.execute(text("SELECT count(*) FROM pharmacist_duty WHERE user_id = :u AND off_at IS NULL"),
                                   {"u": me["id"]}).scalar_one()
    assert open_duties == 0
    ok = c.post(f"/users/requests/{moved.json()[0]['id']}/approve", headers=shop["manager"])
    assert ok.status_code == 200
    assert _me(c, till_login(c, "u_pharmacist", ROLE_PINS["pharmacist"]))["roles"] == ["cashier"]
    with read_session(engine) as s:
        assert verify(s, ctx.store_id).ok


# --- SEC-01: refunds and voids above the store's amount are checked by a second person -----------------------


def _basket(shop: Shop, *scans: tuple[str, int], h: dict[str, str] | None = None) -> str:
    c, h = shop["client"], h or shop["cashier"]
    sid = str(uuid.uuid4())
    assert c.post("/sales", json={"id": sid}, headers=h).status_code == 201
    for barcode, qty in scans:
        r = c.post(f"/sales/{sid}/lines", json={"barcode": barcode, "qty": qty}, headers=h)
        assert r.status_code == 201, r.text
    return sid


def _paid(shop: Shop, *scans: tuple[str, int]) -> dict[str, Any]:
    c, h = shop["client"], shop["cashier"]
    sid = _basket(shop, *scans)
    total = c.get(f"/sales/{sid}", headers=h).json()["total_fen"]
    done = c.post(f"/sales/{sid}/complete", json={"tenders": [{"kind": "cash", "amount_fen": total,
                                                               "tendered_fen": total}]}, headers=h)
    assert done.status_code == 200, done.text
    return done.json()


@pytest.mark.refuses("SEC-01")
def test_sec01_a_void_above_the_amount_needs_a_second_person(shop: Shop, engine: Engine,
                                                             ctx: Ctx) -> None:
    c, ph = shop["client"], shop["pharmacist"]
    _owner_of(engine, ctx, "u_pharmacist", ID_A)
    _provision(engine, ctx, "ph_alt", "3131", {Role.PHARMACIST}, ID_A)  # the same person's second account
    frozen = _provision(engine, ctx, "m_gone", "4141", {Role.MANAGER}, ID_B)
    with core_unit(engine) as u:
        users.freeze_user(u, ctx, frozen, "离职")
    small = _basket(shop, (BARCODE_MASK, 1))  # 990 fen: at or below the amount, alone
    assert c.post(f"/sales/{small}/void", json={"reason": "顾客不要了"}, headers=ph).status_code == 200
    sid = _basket(shop, (BARCODE_VITC, 3))  # 1050 fen
    body = {"reason": "顾客不要了"}
    alone = c.post(f"/sales/{sid}/void", json=body, headers=ph)
    assert alone.status_code == 403 and alone.json()["code"] == "SEC-01"
    for who, pin, why in (("u_pharmacist", ROLE_PINS["pharmacist"], "same_person"), ("ph_alt", "3131", "same_person"),
                          ("u_cashier", ROLE_PINS["cashier"], "may_confirm")):
        r = c.post(f"/sales/{sid}/void", json=body, headers=second(c, ph, who, pin, "sale.void", sid))
        assert r.status_code == 403 and r.json()["code"] == "SEC-01" and why in r.json()["details"], (who, r.text)
    gone = second_asked(c, ph, "m_gone", "4141", "sale.void", sid)  # a frozen account is refused as it types
    assert gone.status_code == 403 and gone.json()["code"] == "SEC-03" and gone.json()["details"]["frozen"], gone.text
    wrong = second_asked(c, ph, "u_manager", "0000", "sale.void", sid)
    assert wrong.status_code == 403 and "grant" not in wrong.json()
    ok = c.post(f"/sales/{sid}/void", json=body, headers=second(c, ph, "u_manager", ROLE_PINS["manager"], "sale.void",
                                                               sid))
    assert ok.status_code == 200 and ok.json()["status"] == "voided", ok.text
    manager = _me(c, shop["manager"])
    with engine.connect() as conn:
        confirmed = conn.execute(text("SELECT void_confirmed_by FROM sale WHERE id = :i"), {"i": sid}).scalar_one()
    assert confirmed == manager["id"]


@pytest.mark.refuses("SEC-01")
@pytest.mark.parametrize("backend", ["sqlite"])  # a check of the wire and the grants' memory: no database guard
def test_sec01_a_second_persons_pin_never_travels_in_a_request_and_their_grant_serves_once(
        shop: Shop, engine: Engine, ctx: Ctx) -> None:
    """The old way — the second person's username and PIN in the void's body — is refused by name, nothing
    written; their grant (X-Second) serves one request on the sale it was asked for, once, and never as an
    authorisation to act (X-Grant)."""
    c, ph, cashier = shop["client"], shop["pharmacist"], shop["cashier"]
    sid = _basket(shop, (BARCODE_VITC, 3))  # 1050 fen: above the amount
    old = c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了", "confirm_username": "u_manager",
                                             "confirm_pin": ROLE_PINS["manager"]}, headers=ph)
    assert old.status_code == 422 and old.json()["code"] == "VALIDATION", old.text
    said = old.json()
    assert {e["field"] for e in said["details"]["errors"]} == {"confirm_username", "confirm_pin"}
    assert "confirm_pin" in said["message_en"] and "复核人 PIN" in said["message_zh"]
    assert "X-Second" in said["message_zh"]
    old_return = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": sid, "reason": "x", "lines": [
        {"sale_line_id": 1, "qty": 1}], "confirm_pin": "1"}, headers=ph)
    assert old_return.status_code == 422 and "confirm_pin" in old_return.json()["message_en"]
    other = _basket(shop, (BARCODE_VITC, 3))
    grant = second(c, ph, "u_manager", ROLE_PINS["manager"], "sale.void", sid)
    elsewhere = c.post(f"/sales/{other}/void", json={"reason": "顾客不要了"}, headers=grant)  # another sale
    assert elsewhere.status_code == 403 and elsewhere.json()["details"]["grant"] == "refused", elsewhere.text
    as_authority = c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了"},  # a check is no right to act
                          headers=cashier | {"X-Grant": grant["X-Second"]})
    assert as_authority.status_code == 403 and as_authority.json()["details"]["grant"] == "refused"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sale WHERE status = 'voided'")).scalar_one() == 0
    ok = c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=grant)
    assert ok.status_code == 200 and ok.json()["status"] == "voided", ok.text
    again = c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=grant)
    assert again.status_code == 403 and "已使用过一次" in again.json()["message_zh"], again.text
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM sale WHERE id = :i"), {"i": other}).scalar_one() == "open"


@pytest.mark.refuses("SEC-01")
def test_sec01_a_same_day_refund_above_the_amount_needs_a_second_person(shop: Shop, engine: Engine,
                                                                        ctx: Ctx) -> None:
    c, ph = shop["client"], shop["pharmacist"]
    _owner_of(engine, ctx, "u_pharmacist", ID_A)
    _provision(engine, ctx, "ph_alt", "3131", {Role.PHARMACIST}, ID_A)
    frozen = _provision(engine, ctx, "m_gone", "4141", {Role.MANAGER}, ID_B)
    with core_unit(engine) as u:
        users.freeze_user(u, ctx, frozen, "离职")
    small = _paid(shop, (BARCODE_MASK, 1))
    alone_small = c.post("/returns", json={"id": str(uuid.uuid4()), "sale_id": small["id"], "reason": "质量问题",
                                           "lines": [{"sale_line_id": small["lines"][0]["id"], "qty": 1}]}, headers=ph)
    assert alone_small.status_code == 201 and alone_small.json()["confirmed_by"] is None, alone_small.text
    sale = _paid(shop, (BARCODE_VITC, 3))
    body = {"id": str(uuid.uuid4()), "sale_id": sale["id"], "reason": "质量问题",
            "lines": [{"sale_line_id": sale["lines"][0]["id"], "qty": 3}]}
    alone = c.post("/returns", json=body, headers=ph)
    assert alone.status_code == 403 and alone.json()["code"] == "SEC-01"
    for who, pin, why in (("u_pharmacist", ROLE_PINS["pharmacist"], "same_person"), ("ph_alt", "3131", "same_person")):
        r = c.post("/returns", json=body, headers=second(c, ph, who, pin, "sale.return", sale["id"]))
        assert r.status_code == 403 and why in r.json()["details"], (who, r.text)
    gone = second_asked(c, ph, "m_gone", "4141", "sale.return", sale["id"])
    assert gone.status_code == 403 and gone.json()["details"]["frozen"], gone.text
    ok = c.post("/returns", json=body, headers=second(c, ph, "u_manager", ROLE_PINS["manager"], "sale.return",
                                                      sale["id"]))
    assert ok.status_code == 201, ok.text
    assert ok.json()["confirmed_by"] == _me(c, shop["manager"])["id"] and ok.json()["total_fen"] == 1050
    with read_session(engine) as s:
        assert verify(s, ctx.store_id).ok


@pytest.mark.refuses("SEC-01")
def test_sec01_the_second_person_rule() -> None:
    clerk = person_key("", 7)
    assert second_person_refusal("SEC-01", clerk, None) is not None
    assert second_person_refusal("SEC-01", "id:A", SecondPerson("id:A", False, True)) is not None
    assert second_person_refusal("SEC-01", "id:A", SecondPerson("id:B", True, True)) is not None
    assert second_person_refusal("SEC-01", "id:A", SecondPerson("id:B", False, False)) is not None
    assert second_person_refusal("SEC-01", "id:A", SecondPerson("id:B", False, True)) is None
    assert person_key("11010119770707003x", 1) == person_key("11010119770707003X", 2)


@pytest.mark.refuses("SEC-01")
@pytest.mark.business_day
def test_sec01_a_later_day_refund_needs_a_second_person_whatever_its_amount(shop: Shop,
                                                                            engine: Engine) -> None:
    from datetime import timedelta

    from tests.tamper import behind_the_guard

    c, ph = shop["client"], shop["pharmacist"]
    sale = _paid(shop, (BARCODE_MASK, 1))  # 990 fen: below the amount
    with behind_the_guard(engine, "sale") as conn:  # as if the sale was yesterday's, store time
        conn.execute(text("UPDATE sale SET business_date = :d WHERE id = :i"),
                     {"d": shop["clock"].today - timedelta(days=1), "i": sale["id"]})
    body = {"id": str(uuid.uuid4()), "sale_id": sale["id"], "reason": "次日退货",
            "lines": [{"sale_line_id": sale["lines"][0]["id"], "qty": 1}]}
    alone = c.post("/returns", json=body, headers=ph)
    assert alone.status_code == 403 and alone.json()["code"] == "SEC-01"
    ok = c.post("/returns", json=body, headers=second(c, ph, "u_manager", ROLE_PINS["manager"], "sale.return",
                                                      sale["id"]))
    assert ok.status_code == 201 and ok.json()["confirmed_by"] is not None, ok.text
