"""Accounts, PIN login, lockout, freezing (SEC-01..03) and staff records (STAFF-01)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server.config import Settings
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.roles import Role
from server.rules.staff import StaffRecord, pharmacist_refusals, role_combination_refusals
from server.services.context import Ctx
from server.services.store import users
from tests.conftest import Clock, login


def test_pins_are_hashed_with_argon2(engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        users.add_user(u, ctx, "c1", "收银员", "1234", {Role.CASHIER})
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT pin_hash FROM app_user WHERE username = 'c1'")).scalar_one()
    cost = ctx.settings.service
    assert stored.startswith(f"$argon2id$v=19$m={cost.pin_hash_memory_kib},t={cost.pin_hash_time_cost},")
    assert "1234" not in stored


def test_an_unknown_user_costs_what_a_real_pin_check_costs(engine: Engine, ctx: Ctx,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """SEC-03: a login for a name that does not exist spends a verification at the store's own argon2 cost, so the
    answer's time does not tell which usernames exist (a dummy at another cost would answer faster or slower)."""
    from server.auth import pins

    verified: list[str] = []
    real = pins.verify_pin
    def recorded(pin: str, stored: str) -> bool:
        verified.append(stored)
        return real(pin, stored)

    real_check = pins.verify_and_update
    def recorded_check(pin: str, stored: str, memory_kib: int, time_cost: int) -> tuple[bool, str | None]:
        verified.append(stored)
        return real_check(pin, stored, memory_kib, time_cost)

    monkeypatch.setattr(pins, "verify_pin", recorded)  # burn_time's
    monkeypatch.setattr(users, "verify_and_update", recorded_check)  # the real check's
    with core_unit(engine) as u:
        users.add_user(u, ctx, "c1", "收银员", "1234", {Role.CASHIER})
    verified.clear()
    with pytest.raises(AppError), core_unit(engine) as u:
        users.check_pin(u, ctx, "nobody", "1234")
    [dummy] = verified
    with core_unit(engine) as u:
        assert users.check_pin(u, ctx, "c1", "9999") is None
    real_hash = verified[-1]
    assert real_hash != dummy and dummy.split("$")[3] == real_hash.split("$")[3]  # m=…,t=…,p=…: the same cost


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a use case's logic: no database guard
def test_a_pin_hashed_at_another_cost_is_hashed_at_the_stores_on_its_next_right_pin(engine: Engine, ctx: Ctx) -> None:
    """A change of the argon2 cost (the default was 64 MiB, 3 passes, 4 lanes) needs no reset of PINs: a hash at
    another cost verifies at its own, and the owner's next right PIN stores it at the store's cost. A wrong PIN
    changes nothing of it."""
    from server.auth.pins import hash_pin, verify_pin

    cost = ctx.settings.service
    with core_unit(engine) as u:
        users.add_user(u, ctx, "c1", "收银员", "1234", {Role.CASHIER})
    older = hash_pin("1234", cost.pin_hash_memory_kib * 2, cost.pin_hash_time_cost + 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET pin_hash = :h WHERE username = 'c1'"), {"h": older})

    def stored() -> str:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT pin_hash FROM app_user WHERE username = 'c1'")).scalar_one())

    with core_unit(engine) as u:
        assert users.check_pin(u, ctx, "c1", "4321") is None
    assert stored() == older
    with core_unit(engine) as u:
        assert users.check_pin(u, ctx, "c1", "1234") is not None
    now = stored()
    assert now.startswith(f"$argon2id$v=19$m={cost.pin_hash_memory_kib},t={cost.pin_hash_time_cost},p=1$")
    assert verify_pin("1234", now) and not verify_pin("4321", now)


def test_the_shipped_pin_cost_is_strong() -> None:
    from server.config import load_settings

    shipped = load_settings().service
    assert shipped.pin_hash_memory_kib >= 19 * 1024 and shipped.pin_hash_time_cost >= 2


def test_login_me_logout(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    me = client.get("/auth/me", headers=headers["pharmacist"])
    assert me.status_code == 200 and me.json()["roles"] == ["pharmacist"]
    assert client.post("/auth/logout", headers=headers["pharmacist"]).status_code == 204
    gone = client.get("/auth/me", headers=headers["pharmacist"])
    assert gone.status_code == 401 and gone.json()["code"] == "AUTH"


def test_wrong_pin_is_refused_and_repeated_failures_lock(client: TestClient, headers: dict[str, dict[str, str]],
                                                         settings: Settings) -> None:
    bad = client.post("/auth/login", json={"username": "u_cashier", "pin": "0000"})
    assert bad.status_code == 401 and bad.json()["message_zh"] == "用户名或 PIN 错误"
    unknown = client.post("/auth/login", json={"username": "nobody", "pin": "0000"})
    assert unknown.status_code == 401 and unknown.json() == bad.json()  # no hint which part was wrong
    for _ in range(settings.service.lockout_attempts - 1):
        client.post("/auth/login", json={"username": "u_cashier", "pin": "0000"})
    locked = client.post("/auth/login", json={"username": "u_cashier", "pin": "1111"})
    assert locked.status_code == 403 and locked.json()["code"] == "AUTH_LOCKED"


@pytest.mark.refuses("SEC-03")
def test_a_frozen_account_cannot_log_in_and_its_tokens_die_at_once(client: TestClient,
                                                                   headers: dict[str, dict[str, str]]) -> None:
    cashier = client.get("/auth/me", headers=headers["cashier"]).json()
    assert client.get("/items/search", params={"q": "a"}, headers=headers["cashier"]).status_code == 200
    r = client.post(f"/users/{cashier['id']}/freeze", json={"reason": "离职"}, headers=headers["manager"])
    assert r.status_code == 200 and r.json()["status"] == "frozen"
    dead = client.get("/items/search", params={"q": "a"}, headers=headers["cashier"])
    assert dead.status_code == 401
    again = client.post("/auth/login", json={"username": "u_cashier", "pin": "1111"})
    assert again.status_code == 403 and again.json()["code"] == "SEC-03"


@pytest.mark.refuses("SEC-01")
def test_freezing_needs_a_reason_and_not_oneself(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    me = client.get("/auth/me", headers=headers["manager"]).json()
    cashier = client.get("/auth/me", headers=headers["cashier"]).json()
    empty = client.post(f"/users/{cashier['id']}/freeze", json={"reason": ""}, headers=headers["manager"])
    assert empty.status_code == 422
    own = client.post(f"/users/{me['id']}/freeze", json={"reason": "test"}, headers=headers["manager"])
    assert own.status_code == 422 and own.json()["code"] == "SEC-01"


@pytest.mark.refuses("SEC-02")
def test_a_maintainer_cannot_also_hold_an_operational_post(client: TestClient,
                                                           headers: dict[str, dict[str, str]]) -> None:
    r = client.post("/users", json={"username": "mix", "display_name": "兼岗", "id_number": "110101199003074514",
                                    "roles": ["sysadmin", "cashier"]}, headers=headers["sysadmin"])
    assert r.status_code == 422 and r.json()["code"] == "SEC-02"
    assert role_combination_refusals({Role.SYSADMIN}) == []


def test_user_names_are_unique_per_store(engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        users.add_user(u, ctx, "dup", "甲", "1234", {Role.CASHIER})
    with pytest.raises(AppError) as exc, core_unit(engine) as u:
        users.add_user(u, ctx, "dup", "乙", "1234", {Role.CASHIER})
    assert exc.value.status == 409


@pytest.mark.refuses("STAFF-01")
def test_staff_record_masks_the_id_number_and_judges_the_pharmacist(
        client: TestClient, headers: dict[str, dict[str, str]], settings: Settings, clock: Clock) -> None:
    pharm = client.get("/auth/me", headers=headers["pharmacist"]).json()
    today = clock.today
    body = {"id_number": "44030519800101123X", "qualification": "licensed_pharmacist",
            "qualification_no": "ZY2019440001", "qualification_expiry": (today + timedelta(days=900)).isoformat(),
            "registered_store_code": settings.store.fixmedins_code,
            "contract_start": (today - timedelta(days=100)).isoformat(),
            "contract_end": (today + timedelta(days=600)).isoformat()}
    r = client.put(f"/users/{pharm['id']}/staff", json=body, headers=headers["manager"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id_number_masked"] == "4403**********123X"
    assert "44030519800101123X" not in r.text
    assert out["pharmacist_signoff_refusals"] == []
    audit_log = client.get("/audit", params={"limit": 500}, headers=headers["manager"]).text
    assert "44030519800101123X" not in audit_log  # SEC-06: the log carries the masked number only
    body["contract_end"] = (today - timedelta(days=1)).isoformat()
    ended = client.put(f"/users/{pharm['id']}/staff", json=body, headers=headers["manager"]).json()
    assert [v["code"] for v in ended["pharmacist_signoff_refusals"]] == ["STAFF-01", "STAFF-01"]


@pytest.mark.refuses("STAFF-01")
def test_staff01_refuses_each_missing_condition() -> None:
    today = date(2026, 11, 22)
    good = StaffRecord("licensed_pharmacist", "ZY1", "P1", date(2026, 1, 1), date(2027, 12, 31), date(2029, 1, 1))
    assert pharmacist_refusals(good, "P1", today) == []
    cases = {
        "no qualification": StaffRecord("none", "", "P1", date(2026, 1, 1), date(2027, 12, 31), date(2029, 1, 1)),
        "registered elsewhere": StaffRecord("licensed_pharmacist", "ZY1", "P2", date(2026, 1, 1), date(2027, 12, 31), date(2029, 1, 1)),
        "contract under a year": StaffRecord("licensed_pharmacist", "ZY1", "P1", date(2026, 6, 1), date(2027, 3, 1), date(2029, 1, 1)),
        "contract not started": StaffRecord("licensed_pharmacist", "ZY1", "P1", date(2026, 12, 1), date(2028, 1, 1), date(2029, 1, 1)),
        "no contract": StaffRecord("licensed_pharmacist", "ZY1", "P1", None, None, date(2029, 1, 1)),
    }
    for name, record in cases.items():
        refusals = pharmacist_refusals(record, "P1", today)
        assert refusals and all(v.rule == "STAFF-01" for v in refusals), name
    assert pharmacist_refusals(None, "P1", today)[0].rule == "STAFF-01"


@pytest.mark.refuses("CARD-06")
def test_login_records_the_till_and_refuses_an_unknown_one(client: TestClient,
                                                           headers: dict[str, dict[str, str]]) -> None:
    r = client.post("/auth/login", json={"username": "u_cashier", "pin": "1111", "till_code": "NOPE"})
    assert r.status_code == 403 and r.json()["code"] == "CARD-06"


def test_login_failure_is_audited(client: TestClient, headers: dict[str, dict[str, str]], engine: Engine) -> None:
    client.post("/auth/login", json={"username": "u_cashier", "pin": "0000"})
    with read_session(engine) as s:
        n = s.connection().execute(text("SELECT count(*) FROM audit_entry WHERE action = 'auth.login_failed'")).scalar_one()
    assert n == 1
    assert login(client, "u_cashier", "1111")


@pytest.mark.refuses("SEC-03")
@pytest.mark.parametrize("meanwhile", ["frozen", "locked", "pin_changed"])
def test_the_pin_is_verified_without_the_writer_and_what_changed_meanwhile_is_judged_at_the_write(
        client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, ctx: Ctx,
        monkeypatch: pytest.MonkeyPatch, meanwhile: str) -> None:
    """The login's argon2 verification runs before its unit of work, so SQLite's writer is free meanwhile (another
    till's scan is not queued behind a PIN). No gap: the account as it is at the write decides — frozen between the
    verification and the write: SEC-03, no session; locked meanwhile: refused though the PIN was right; the PIN
    changed meanwhile: the old one is verified again against the new hash, and refused. The same for a PIN typed
    to authorise in place."""
    import threading

    from server.auth.pins import hash_pin
    from server.db.sqlite import writer_lock

    lock = writer_lock(engine)
    writer_free: list[bool] = []
    real = users.verify_and_update
    armed: list[bool] = []

    def change_meanwhile(username: str) -> None:
        with engine.connect() as conn:
            uid = int(conn.execute(text("SELECT id FROM app_user WHERE username = :n"), {"n": username}).scalar_one())
        if meanwhile == "frozen":
            with core_unit(engine) as u:
                users.freeze_user(u, ctx, uid, "离职")
        else:
            change = ({"locked_until": ctx.now + timedelta(minutes=30)} if meanwhile == "locked"
                      else {"pin_hash": hash_pin("8080", *users.pin_cost(ctx))})
            with engine.begin() as conn:
                conn.execute(text(f"UPDATE app_user SET {next(iter(change))} = :v WHERE id = :i"),
                             {"v": next(iter(change.values())), "i": uid})

    def verify(pin: str, stored: str, memory_kib: int, time_cost: int) -> tuple[bool, str | None]:
        if lock is not None:  # SQLite: is the writer free while argon2 runs? (another thread could take it)
            taken: list[bool] = []

            def probe() -> None:  # an RLock is released by the thread that took it
                taken.append(lock.acquire(blocking=False))
                if taken[0]:
                    lock.release()
            thread = threading.Thread(target=probe)
            thread.start()
            thread.join()
            writer_free.append(taken[0])
        answer = real(pin, stored, memory_kib, time_cost)
        if armed:  # the account changes between the verification and the write
            armed.clear()
            change_meanwhile(who[0])
        return answer

    monkeypatch.setattr(users, "verify_and_update", verify)
    who = ["u_cashier"]
    assert login(client, "u_cashier", "1111")  # nothing meanwhile: logged in
    assert lock is None or (writer_free and all(writer_free))  # SQLite: verified without the writer

    def sessions(username: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM auth_session s JOIN app_user u ON u.id = s.user_id "
                                         "WHERE u.username = :n"), {"n": username}).scalar_one())

    before = sessions("u_cashier")
    armed.append(True)
    r = client.post("/auth/login", json={"username": "u_cashier", "pin": "1111"})
    expected = {"frozen": (403, "SEC-03"), "locked": (403, "AUTH_LOCKED"), "pin_changed": (401, "AUTH")}[meanwhile]
    assert (r.status_code, r.json()["code"]) == expected, r.text
    assert sessions("u_cashier") == before  # no session behind the refusal

    who[0] = "u_manager"  # a manager typing their PIN to authorise a cashier's void in place
    before = sessions("u_manager")
    till_person = headers["cashier"] if meanwhile != "frozen" else login(client, "u_pharmacist", "2222")
    writer_free.clear()
    armed.append(True)
    r = client.post("/auth/authorise", json={"username": "u_manager", "pin": "4444", "action": "sale.void",
                                              "subject": "00000000-0000-0000-0000-000000000001"}, headers=till_person)
    assert r.status_code == 403 and r.json()["code"] == {"frozen": "SEC-03", "locked": "AUTH_LOCKED",
                                                         "pin_changed": "AUTH"}[meanwhile], r.text
    assert not r.json().get("grant") and (lock is None or writer_free[0])  # the first verification without the writer (a PIN changed
    # meanwhile is verified again inside the unit, against the hash it will judge: that rare one holds it)
    assert sessions("u_manager") == before
