"""Authorisation in place (SEC-01, #18): at a till where a cashier is logged in, a pharmacist types their username
and PIN for one action on one thing (POST /auth/authorise → a grant), and the action's request carries the grant:
the pharmacist's posts decide, the pharmacist acts, and the audit entry names both people. The walk-arounds —
the till's own person (another account of theirs), a frozen pharmacist, a wrong PIN, a post that may not, a grant
used twice, for another sale, from another till session — are each refused with nothing written."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from server.audit import verify
from server.db.models.base import id_of
from server.db.uow import core_unit, orm, read_session
from server.roles import Role
from server.services.context import Ctx
from server.services.store.users import add_user, find_user, freeze_user, set_staff_profile
from server.state import AppState
from tests.conftest import BARCODE_VITC, ROLE_PINS, Post, Shop, qualify_pharmacist, service_state, till_login
from tests.server.test_prescriptions import enter
from tests.server.test_selling import new_sale, pay_cash, scan

PHARMACIST = ("u_pharmacist", ROLE_PINS["pharmacist"])


def authorise(shop: Shop, action: str, subject: str, who: tuple[str, str] = PHARMACIST,
              at: Post = "cashier") -> Any:
    return shop["client"].post("/auth/authorise", json={"username": who[0], "pin": who[1], "action": action,
                                                        "subject": subject}, headers=shop[at])


def granted(shop: Shop, grant: str, at: Post = "cashier") -> dict[str, str]:
    return shop[at] | {"X-Grant": grant}


def state_of(shop: Shop) -> AppState:
    return service_state(shop["client"])


def user_id(shop: Shop, username: str) -> int:
    st = state_of(shop)
    with read_session(st.engine) as s:
        return id_of(find_user(s, Ctx(st.store_id, st.settings), username))


def sale_status(shop: Shop, sid: str) -> tuple[str, int | None]:
    with state_of(shop).engine.connect() as conn:
        row = conn.execute(text("SELECT status, voided_by FROM sale WHERE id = :i"), {"i": sid}).one()
    return str(row.status), row.voided_by


def audit_of(shop: Shop, action: str) -> list[Any]:
    """(user_id, after) of the entries of `action`, the image read as JSON on either backend."""
    with state_of(shop).engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, after FROM audit_entry WHERE action = :a ORDER BY seq"),
                            {"a": action}).all()
    return [SimpleNamespace(user_id=r.user_id, after=json.loads(r.after) if isinstance(r.after, str) else r.after)
            for r in rows]


def open_sale(shop: Shop, barcode: str = BARCODE_VITC) -> str:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    assert scan(c, h, sid, barcode).status_code == 201
    return sid


def test_the_till_knows_its_rights_up_front_and_who_may_do_what_it_may_not(shop: Shop) -> None:
    me = shop["client"].get("/auth/me", headers=shop["cashier"]).json()
    assert "sale.sell" in me["actions"] and "sale.void" not in me["actions"]
    assert me["in_place"] == {"rx.review": "药师", "sale.void": "药师", "sale.return": "药师",
                              "duty.pharmacist": "药师"}
    ph = shop["client"].get("/auth/me", headers=shop["pharmacist"]).json()
    assert {"sale.void", "sale.return", "rx.review", "duty.pharmacist"} <= set(ph["actions"]) and ph["in_place"] == {}
    login = shop["client"].post("/auth/login", json={"username": "u_cashier", "pin": ROLE_PINS["cashier"],
                                                     "till_code": "T01"}).json()
    assert login["user"]["actions"] == me["actions"] and login["user"]["in_place"] == me["in_place"]
    sid = open_sale(shop)
    bare = shop["client"].post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=shop["cashier"])
    assert bare.status_code == 403 and bare.json()["code"] == "SEC-01"
    assert "可由药师当场输入工号和 PIN 授权" in bare.json()["message_zh"] and bare.json()["details"]["in_place"]


def test_a_pharmacist_authorises_a_cashiers_void_in_place_and_both_are_recorded(shop: Shop) -> None:
    sid = open_sale(shop)
    a = authorise(shop, "sale.void", sid)
    assert a.status_code == 200, a.text
    assert a.json()["user"]["username"] == "u_pharmacist" and a.json()["subject"] == sid
    r = shop["client"].post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=granted(shop, a.json()["grant"]))
    assert r.status_code == 200, r.text and r.json()["status"] == "voided"
    pharmacist, cashier = user_id(shop, "u_pharmacist"), user_id(shop, "u_cashier")
    assert sale_status(shop, sid) == ("voided", pharmacist)  # the row: who voided (the cashier opened the sale)
    [entry] = audit_of(shop, "sale.void")
    assert entry.user_id == pharmacist
    assert entry.after["in_place"] == {"authorised_by_id": pharmacist, "authorised_by": "u_pharmacist",
                                       "till_user_id": cashier, "till_user": "u_cashier"}
    st = state_of(shop)
    with read_session(st.engine) as s:
        assert verify(s, st.store_id).ok  # the image with both names is still the row's


@pytest.mark.refuses("SEC-01")
def test_a_grant_serves_one_action_on_one_sale_at_one_till_once(shop: Shop) -> None:
    c = shop["client"]
    sid, other = open_sale(shop), open_sale(shop)
    grant = authorise(shop, "sale.void", sid).json()["grant"]
    # for another sale: refused, that sale untouched
    r = c.post(f"/sales/{other}/void", json={"reason": "换一单"}, headers=granted(shop, grant))
    assert r.status_code == 403 and r.json()["code"] == "SEC-01" and "不是为此操作" in r.json()["message_zh"]
    # from another till session (the pharmacist's own): refused
    r = c.post(f"/sales/{sid}/void", json={"reason": "换一单"}, headers=granted(shop, grant, at="pharmacist"))
    assert r.status_code == 403 and "授权无效" in r.json()["message_zh"]
    # for another action on the same sale: refused
    r = c.post(f"/sales/{sid}/suspend", headers=granted(shop, grant))
    assert r.status_code == 403 and "不是为此操作" in r.json()["message_zh"]
    assert sale_status(shop, other) == ("open", None) and sale_status(shop, sid) == ("open", None)
    assert c.post(f"/sales/{sid}/void", json={"reason": "顾客不要了"}, headers=granted(shop, grant)).status_code == 200
    # used once: a second use is refused, whatever it is for
    again = authorise(shop, "sale.void", other).json()["grant"]
    assert c.post(f"/sales/{other}/void", json={"reason": "x"}, headers=granted(shop, again)).status_code == 200
    third = open_sale(shop)
    r = c.post(f"/sales/{third}/void", json={"reason": "x"}, headers=granted(shop, again))
    assert r.status_code == 403 and r.json()["code"] == "SEC-01"
    assert sale_status(shop, third) == ("open", None) and len(audit_of(shop, "sale.void")) == 2


@pytest.mark.refuses("SEC-01")
def test_a_return_authorised_once_is_not_made_twice_but_its_retry_gets_the_first_answer(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 2)
    assert pay_cash(c, h, sid, 700, 700).status_code == 200
    line = c.get(f"/sales/{sid}", headers=h).json()["lines"][0]["id"]
    grant = authorise(shop, "sale.return", sid).json()["grant"]
    body = {"id": str(uuid.uuid4()), "sale_id": sid, "lines": [{"sale_line_id": line, "qty": 1}], "reason": "买多了",
            "to_quarantine": True}
    first = c.post("/returns", json=body, headers=granted(shop, grant))
    assert first.status_code == 201, first.text
    retry = c.post("/returns", json=body, headers=granted(shop, grant))  # its answer was lost: the same id again
    assert retry.status_code == 201 and retry.json()["id"] == first.json()["id"]
    second = c.post("/returns", json=body | {"id": str(uuid.uuid4())}, headers=granted(shop, grant))
    assert second.status_code == 403 and second.json()["code"] == "SEC-01" and "已使用" in second.json()["message_zh"]
    with state_of(shop).engine.connect() as conn:
        rows = conn.execute(text("SELECT created_by FROM sale_return")).all()
    assert [r.created_by for r in rows] == [user_id(shop, "u_pharmacist")]
    [entry] = audit_of(shop, "sale.return")
    assert entry.after["in_place"]["till_user_id"] == user_id(shop, "u_cashier")


def _walked_around(shop: Shop, sid: str) -> None:
    """Nothing was written: the sale open, no void, no grant to use."""
    assert sale_status(shop, sid) == ("open", None) and audit_of(shop, "sale.void") == []


@pytest.mark.refuses("SEC-01")
def test_the_till_persons_other_account_cannot_authorise_in_place(shop: Shop) -> None:
    """The cashier's person also holds a pharmacist's account: four eyes are two people, not two accounts."""
    st = state_of(shop)
    ctx = Ctx(st.store_id, st.settings)
    number = "110101199001011234"
    with core_unit(st.engine) as u:
        set_staff_profile(u, ctx, id_of(find_user(orm(u), ctx, "u_cashier")), {"id_number": number})
        add_user(u, ctx, "u_cashier_ph", "收银员的药师号", "5151", {Role.PHARMACIST}, id_number=number)
    sid = open_sale(shop)
    r = authorise(shop, "sale.void", sid, ("u_cashier_ph", "5151"))
    assert r.status_code == 403 and r.json()["code"] == "SEC-01" and r.json()["details"]["same_person"]
    assert "本机登录人本人" in r.json()["message_zh"] and "药师" in r.json()["message_zh"]
    _walked_around(shop, sid)


@pytest.mark.refuses("SEC-03")
def test_a_frozen_pharmacist_cannot_authorise_nor_use_a_grant_given_before_the_freeze(shop: Shop) -> None:
    st = state_of(shop)
    ctx = Ctx(st.store_id, st.settings)
    with core_unit(st.engine) as u:
        add_user(u, ctx, "u_ph2", "第二药师", "6262", {Role.PHARMACIST})
    sid = open_sale(shop)
    grant = authorise(shop, "sale.void", sid, ("u_ph2", "6262")).json()["grant"]
    manager = till_login(shop["client"], "u_manager", ROLE_PINS["manager"])
    with core_unit(st.engine) as u:
        from server.audit import Actor
        freeze_user(u, ctx.acting(Actor(user_id(shop, "u_manager"), "u_manager")), user_id(shop, "u_ph2"), "离职")
    assert manager
    used = shop["client"].post(f"/sales/{sid}/void", json={"reason": "x"}, headers=granted(shop, grant))
    assert used.status_code == 403 and used.json()["code"] == "SEC-03"
    r = authorise(shop, "sale.void", sid, ("u_ph2", "6262"))
    assert r.status_code == 403 and r.json()["code"] == "SEC-03" and "冻结" in r.json()["message_zh"]
    _walked_around(shop, sid)


@pytest.mark.refuses("SEC-01")
def test_a_wrong_pin_is_counted_and_a_post_that_may_not_is_told_who_may(shop: Shop) -> None:
    sid = open_sale(shop)
    wrong = authorise(shop, "sale.void", sid, ("u_pharmacist", "0000"))
    assert wrong.status_code == 403 and wrong.json()["code"] == "AUTH"  # the till's own session stays
    with state_of(shop).engine.connect() as conn:
        failed = conn.execute(text("SELECT failed_attempts FROM app_user WHERE username = 'u_pharmacist'")).scalar_one()
    assert failed == 1  # through the login's lockout
    manager = authorise(shop, "sale.void", sid, ("u_manager", ROLE_PINS["manager"]))
    assert manager.status_code == 403 and manager.json()["code"] == "SEC-01"
    assert "须由药师授权" in manager.json()["message_zh"] and manager.json()["details"]["who_may"] == ["pharmacist"]
    odd = authorise(shop, "user.freeze", sid)
    assert odd.status_code == 422
    _walked_around(shop, sid)


@pytest.mark.refuses("RX-10")
def test_a_pharmacist_reviews_at_the_cashiers_till_in_place_and_goes_on_and_off_duty_there(
        shop: Shop) -> None:
    c = shop["client"]
    st = state_of(shop)
    qualify_pharmacist(st.engine, Ctx(st.store_id, st.settings))
    rx = enter(shop).json()
    shift = str(shop["shift_id"])
    # Off duty, the review is refused by RX-10 for the authoriser (the grant given back: nothing written)
    grant = authorise(shop, "rx.review", str(rx["id"])).json()["grant"]
    off = c.post(f"/prescriptions/{rx['id']}/review", json={"verdict": "approved"}, headers=granted(shop, grant))
    assert off.status_code == 403 and off.json()["code"] == "RX-10", off.text
    assert audit_of(shop, "rx.approved") == []
    duty = authorise(shop, "duty.pharmacist", shift).json()["grant"]
    on = c.post(f"/shifts/{shift}/duty", headers=granted(shop, duty))
    assert on.status_code == 201, on.text and on.json()["user_id"] == user_id(shop, "u_pharmacist")
    status = c.get("/till/status", headers=shop["cashier"]).json()
    assert "测试pharmacist" in status["on_duty"]
    ok = c.post(f"/prescriptions/{rx['id']}/review", json={"verdict": "approved"}, headers=granted(shop, grant))
    assert ok.status_code == 200, ok.text and ok.json()["status"] == "approved"
    assert ok.json()["reviews"][0]["pharmacist_id"] == user_id(shop, "u_pharmacist")
    [entry] = audit_of(shop, "rx.approved")
    assert entry.user_id == user_id(shop, "u_pharmacist")
    assert entry.after["in_place"]["till_user_id"] == user_id(shop, "u_cashier")
    off_grant = authorise(shop, "duty.pharmacist", shift).json()["grant"]
    assert c.delete(f"/shifts/{shift}/duty", headers=granted(shop, off_grant)).status_code == 200
    assert "测试pharmacist" not in c.get("/till/status", headers=shop["cashier"]).json()["on_duty"]
    on_entry = audit_of(shop, "duty.on")[-1]  # the seeded duty pharmacist's came before
    assert on_entry.after["in_place"]["authorised_by"] == "u_pharmacist"


def test_a_cashier_joins_the_tills_shift_another_cashier_opened(shop: Shop) -> None:
    st = state_of(shop)
    ctx = Ctx(st.store_id, st.settings)
    with core_unit(st.engine) as u:
        add_user(u, ctx, "u_cashier2", "第二收银员", "1212", {Role.CASHIER})
    second = till_login(shop["client"], "u_cashier2", "1212")
    shift = shop["client"].get("/shifts/current", headers=second).json()
    assert shift["id"] == shop["shift_id"] and shift["opened_by_name"] == "测试cashier"
