"""Pharmacists on duty in a shift (RX-10, STAFF-01); the account commands; token expiry."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from server.auth import principals
from server.config import ROOT, Settings
from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.services.context import Ctx
from server.services.store.users import find_user, set_staff_profile
from tests.conftest import Clock, Shop
from tests.tamper import behind_the_guard


def _qualify(engine: Engine, ctx: Ctx, username: str, contract_end: date) -> None:
    with core_unit(engine) as u:
        user = find_user(orm(u), ctx, username)
        set_staff_profile(u, ctx, id_of(user), {
            "qualification": "licensed_pharmacist", "qualification_no": "ZY001",
            "qualification_expiry": ctx.today + timedelta(days=700), "registered_store_code": ctx.settings.store.fixmedins_code,
            "contract_start": ctx.today - timedelta(days=400), "contract_end": contract_end})


@pytest.mark.refuses("STAFF-01", "SEC-01")
def test_a_qualified_pharmacist_goes_on_and_off_duty_and_the_z_report_shows_it(
        shop: Shop, engine: Engine, ctx: Ctx, clock: Clock) -> None:
    c, ph, sid = shop["client"], shop["pharmacist"], shop["shift_id"]
    refused = c.post(f"/shifts/{sid}/duty", headers=ph)  # no staff record yet
    assert refused.status_code == 403 and refused.json()["code"] == "STAFF-01"
    _qualify(engine, ctx, "u_pharmacist", clock.today + timedelta(days=400))
    on = c.post(f"/shifts/{sid}/duty", headers=ph)
    assert on.status_code == 201 and on.json()["off_at"] is None
    assert c.post(f"/shifts/{sid}/duty", headers=shop["cashier"]).status_code == 403  # not a pharmacist's post
    report = c.get(f"/shifts/{sid}/report", headers=shop["manager"]).json()
    assert [p["off_at"] for p in report["pharmacists"]] == [None] and report["business_date"] == clock.today.isoformat()
    off = c.delete(f"/shifts/{sid}/duty", headers=ph)
    assert off.status_code == 200 and off.json()["off_at"] is not None
    assert c.delete(f"/shifts/{sid}/duty", headers=ph).status_code == 409


@pytest.mark.refuses("STAFF-01")
@pytest.mark.business_day
def test_a_pharmacist_whose_contract_ended_cannot_go_on_duty(shop: Shop, engine: Engine, ctx: Ctx,
                                                             clock: Clock) -> None:
    _qualify(engine, ctx, "u_pharmacist", clock.today - timedelta(days=1))  # ended yesterday, store time
    r = shop["client"].post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    assert r.status_code == 403 and r.json()["code"] == "STAFF-01"
    _qualify(engine, ctx, "u_pharmacist", clock.today)  # its last day is today: still in term
    assert shop["client"].post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"]).status_code == 201


def _config(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "config.toml"
    path.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    return path


@pytest.mark.refuses("SEC-01", "SEC-02", "SEC-03")
def test_cli_acts_as_a_named_person_who_authenticates(client: TestClient, engine: Engine, ctx: Ctx, settings: Settings,
                                                      tmp_path: Path) -> None:
    from server.cli import app

    config = _config(tmp_path, settings)
    runner = CliRunner()

    def cli(*args: str, pin: str = "") -> Any:
        return runner.invoke(app, [*args, "--config", str(config)], input=pin)

    # a fresh store, nobody yet who could approve: the first administrator and the first manager each create their
    # own account at the keyboard and choose their own PIN (the bootstrap)
    boot = cli("user", "add", "admin", "--name", "管理员", "--role", "sysadmin", "--id-number", "110101198001010011",
               pin="9876\n9876\n")
    assert boot.exit_code == 0, boot.output
    boss = cli("user", "add", "boss", "--name", "店长", "--role", "manager", "--id-number", "110101198002020022",
               pin="5678\n5678\n")
    assert boss.exit_code == 0, boss.output
    # from now on: no command without a named person who authenticates
    li = ("user", "add", "li", "--name", "李四", "--role", "cashier", "--id-number", "110101199003030033")
    anonymous = cli(*li, pin="2468\n2468\n")
    assert anonymous.exit_code == 2 and "SEC-01" in anonymous.output
    assert cli("user", "freeze", "boss", "--reason", "x").exit_code == 2
    assert cli("till", "register", "T05").exit_code == 2
    wrong = cli(*li, "--as", "admin", pin="0000\n")
    assert wrong.exit_code == 1 and "AUTH" in wrong.output
    not_his_post = cli(*li, "--as", "boss", pin="5678\n")  # the manager keeps no accounts
    assert not_his_post.exit_code == 1 and "SEC-01" in not_his_post.output
    added = cli(*li, "--as", "admin", pin="9876\n")
    assert added.exit_code == 0, added.output
    assert client.post("/auth/login", json={"username": "li", "pin": "2468"}).json()["code"] == "AUTH_FIRST_PIN"
    with engine.connect() as conn:
        gid = conn.execute(text("SELECT r.id FROM user_role r JOIN app_user u ON u.id = r.user_id "
                                "WHERE u.username = 'li'")).scalar_one()
    by_requester = cli("user", "approve", str(gid), "--as", "admin", pin="9876\n")
    assert by_requester.exit_code == 1 and "SEC-01" in by_requester.output
    approved = cli("user", "approve", str(gid), "--as", "boss", pin="5678\n")
    assert approved.exit_code == 0, approved.output
    code = approved.output.strip().rsplit(" ", 1)[-1]
    assert client.post("/auth/first-pin", json={"username": "li", "code": code, "pin": "2468"}).status_code == 204
    token = client.post("/auth/login", json={"username": "li", "pin": "2468"})
    assert token.status_code == 200
    h = {"Authorization": f"Bearer {token.json()['token']}"}
    bad_role = cli("user", "add", "wang", "--name", "王五", "--role", "boss", "--id-number", "110101199004040044",
                   "--as", "admin", pin="9876\n")
    assert bad_role.exit_code == 2 and "boss" in bad_role.output
    mixed = cli("user", "add", "zhao", "--name", "赵六", "--role", "sysadmin", "--role", "cashier", "--id-number",
                "110101199005050055", "--as", "admin", pin="9876\n")
    assert mixed.exit_code == 1 and "SEC-02" in mixed.output
    frozen = cli("user", "freeze", "li", "--reason", "离职", "--as", "boss", pin="5678\n")
    assert frozen.exit_code == 0, frozen.output
    assert client.get("/auth/me", headers=h).status_code == 401  # the live token died at once
    assert client.post("/auth/login", json={"username": "li", "pin": "2468"}).json()["code"] == "SEC-03"
    missing = cli("user", "freeze", "nobody", "--reason", "x", "--as", "boss", pin="5678\n")
    assert missing.exit_code == 1
    with engine.connect() as conn:  # each change is attributed to the person who made it, never "system"
        actors: dict[str, str] = dict(conn.execute(text("SELECT action, actor FROM audit_entry WHERE action IN "
                                        "('user.grant_requested', 'user.grant_approved', 'user.freeze')")).all())
    assert actors == {"user.grant_requested": "admin", "user.grant_approved": "boss", "user.freeze": "boss"}


def test_an_expired_token_stops_working(client: TestClient, headers: dict[str, dict[str, str]], engine: Engine) -> None:
    assert client.get("/auth/me", headers=headers["cashier"]).status_code == 200
    with behind_the_guard(engine, "auth_session") as conn:  # the database refuses it otherwise (migration 0016)
        conn.execute(text("UPDATE auth_session SET expires_at = :t"), {"t": "2000-01-01 00:00:00"})
    # Raw SQL goes behind the service's back: tell its caller cache, as a write through the service would.
    principals._bump()
    r = client.get("/auth/me", headers=headers["cashier"])
    assert r.status_code == 401 and r.json()["code"] == "AUTH"
