"""Login sessions and the day's sale numbers are tamper-evident (SEC-04, SEC-03, ST-02; issue #17): a session is
imaged in the audit chain when it is opened and when it ends, so a token slipped into auth_session for another
person, or a revoked one revived, is named by `audit verify`; the database refuses the revival and the deletion.
The day's counter is checked against the sales numbered that day. On SQLite and PostgreSQL (the shop fixture)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from server import audit
from server.auth import principals
from server.db.uow import read_session
from server.services.context import Ctx
from server.services.store.users import token_hash
from tests.conftest import BARCODE_VITC, ROLE_PINS, Shop, login
from tests.server.test_selling import new_sale, pay_cash, scan
from tests.tamper import behind_the_guard


def _verify(engine: Engine, ctx: Ctx) -> audit.VerifyReport:
    with read_session(engine) as s:
        return audit.verify(s, ctx.store_id)


def _named(report: audit.VerifyReport) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(p["kind"], p.get("table", ""), tuple(p.get("columns", ()))) for p in report.problems}


def _one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.mark.refuses("SEC-04", "SEC-03")
def test_a_revoked_session_revived_by_hand_is_refused_and_named(shop: Shop, engine: Engine,
                                                                ctx: Ctx) -> None:
    c = shop["client"]
    manager = login(c, "u_manager", ROLE_PINS["manager"])
    assert c.post("/auth/logout", headers=manager).status_code in (200, 204)
    assert c.get("/auth/me", headers=manager).status_code == 401
    assert _verify(engine, ctx).ok
    ended = _one(engine, "SELECT max(id) FROM auth_session WHERE revoked_at IS NOT NULL")
    for edit in ("UPDATE auth_session SET revoked_at = NULL WHERE id = :i",
                 "UPDATE auth_session SET expires_at = created_at WHERE id = :i",
                 "UPDATE auth_session SET user_id = user_id + 1 WHERE id = :i",
                 "DELETE FROM auth_session WHERE id = :i"):
        with pytest.raises(IntegrityError, match="auth_session"), engine.begin() as conn:
            conn.execute(text(edit), {"i": ended})
    principals._bump()
    assert c.get("/auth/me", headers=manager).status_code == 401  # nothing written: still ended
    with behind_the_guard(engine, "auth_session") as conn:
        conn.execute(text("UPDATE auth_session SET revoked_at = NULL WHERE id = :i"), {"i": ended})
    principals._bump()  # raw SQL goes behind the service's cache as well
    assert c.get("/auth/me", headers=manager).status_code == 200  # the walk-around works at the door ...
    report = _verify(engine, ctx)  # ... and the chain names it
    assert _named(report) == {("altered_row", "auth_session", ("revoked_at",))}
    assert report.problems[0]["row_id"] == str(ended)


@pytest.mark.refuses("SEC-04", "SEC-03")
def test_a_session_slipped_in_for_another_person_is_named(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    """The owner of the database writes a token of their own for the pharmacist: it is named, and a live session
    of the pharmacist's own (an audited login) is not."""
    c = shop["client"]
    token = secrets.token_urlsafe(32)
    pharmacist = _one(engine, "SELECT id FROM app_user WHERE username = 'u_pharmacist'")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO auth_session (store_id, user_id, token_hash, till_id, created_at, expires_at) "
                          "SELECT store_id, user_id, :h, till_id, created_at, expires_at FROM auth_session "
                          "WHERE user_id = :u ORDER BY id LIMIT 1"), {"h": token_hash(token), "u": pharmacist})
    principals._bump()
    assert c.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    report = _verify(engine, ctx)
    assert _named(report) == {("unaudited_row", "auth_session", ())}
    forged = _one(engine, "SELECT id FROM auth_session WHERE token_hash = :h", h=token_hash(token))
    assert report.problems[0]["row_id"] == str(forged)


@pytest.mark.refuses("ST-02", "SEC-04")
def test_the_days_sale_counter_set_back_or_deleted_is_refused_and_named(shop: Shop, engine: Engine,
                                                                       ctx: Ctx) -> None:
    """Set back, the counter would number the next sale again (a receipt number twice)."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_VITC, 1)
    assert pay_cash(c, h, sid, 350, 350).status_code == 200
    assert _verify(engine, ctx).ok
    for edit in ("UPDATE day_counter SET last_no = 0", "DELETE FROM day_counter"):
        with pytest.raises(IntegrityError, match="day_counter"), engine.begin() as conn:
            conn.execute(text(edit))
    with behind_the_guard(engine, "day_counter") as conn:
        conn.execute(text("UPDATE day_counter SET last_no = 0"))
    assert _named(_verify(engine, ctx)) == {("counter_mismatch", "day_counter", ())}
    with behind_the_guard(engine, "day_counter") as conn:
        conn.execute(text("DELETE FROM day_counter"))
    assert _named(_verify(engine, ctx)) == {("counter_mismatch", "day_counter", ())}


@pytest.mark.refuses("SEC-03", "SEC-04")
def test_the_sessions_a_freeze_ended_stay_ended(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    """A freeze ends every live session of the account in the chain too: one revived by hand is refused by the
    database, and, behind the guard, named."""
    c = shop["client"]
    cashier = c.get("/auth/me", headers=shop["cashier"]).json()
    r = c.post(f"/users/{cashier['id']}/freeze", json={"reason": "离职"}, headers=shop["manager"])
    assert r.status_code == 200, r.text
    assert _verify(engine, ctx).ok  # each ended session imaged as ended
    ended = _one(engine, "SELECT max(id) FROM auth_session WHERE user_id = :u AND revoked_at IS NOT NULL",
                 u=cashier["id"])
    with pytest.raises(IntegrityError, match="auth_session"), engine.begin() as conn:
        conn.execute(text("UPDATE auth_session SET revoked_at = NULL WHERE id = :i"), {"i": ended})
    with behind_the_guard(engine, "auth_session") as conn:
        conn.execute(text("UPDATE auth_session SET revoked_at = NULL WHERE id = :i"), {"i": ended})
    report = _verify(engine, ctx)
    assert _named(report) == {("altered_row", "auth_session", ("revoked_at",))}
