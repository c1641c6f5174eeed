"""The compliance checklist (issue #22): a clean store passes every item the data can prove, and a store that
breaks one item is flagged on exactly that item, with its evidence. Items the data cannot prove yet say 需人工确认,
never a silent 合格."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from reports.checklist.verdict import Verdict
from server import audit
from server.audit import Actor
from server.config import Settings
from server.db.models import AttestationTopic, BackupRun, RestoreDrill
from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.errors import AppError
from server.rules.agreement import AgreementStatus
from server.services.compliance import checklist as compliance
from server.services.context import Ctx
from server.services.store.profile import record_agreement_event, update_profile
from server.services.store.users import find_user, freeze_user, set_staff_profile
from tests.conftest import (
    DUTY_PHARMACIST,
    SECOND_INSURANCE_ADMIN,
    add_role_users,
    add_second_insurance_admin,
    seed_shop,
)

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PASSING = {1, 2, 3, 5, 7, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 25, 26}
# 需人工确认 in a clean store: 4, the declaration's deadline has no default
# (ST-04: the store sets its region's); 6, nothing declared yet, so no reserve; 8, no inspection export made yet
NOT_YET_IN_THE_DATA = {4, 6, 8}
# 12: transfers are not recorded: the item says so even when no account is past its contract; 21: the mapping is
# checked line by line, and no shelf label (GSP-04) is printed in a clean store yet
BY_HAND = {12, 21}
COUNTER = ("u_cashier", "u_pharmacist", DUTY_PHARMACIST)


def _acting(engine: Engine, ctx: Ctx, username: str) -> Ctx:
    with core_unit(engine) as u:
        user = find_user(orm(u), ctx, username)
        return ctx.acting(Actor(id_of(user), user.username))


def _profile(engine: Engine, ctx: Ctx, username: str, **changes: Any) -> None:
    today = ctx.today
    values = {"qualification": "licensed_pharmacist" if "pharm" in username else "none",
              "qualification_no": "ZY-0001" if "pharm" in username else "",
              "qualification_expiry": today + timedelta(days=1000) if "pharm" in username else None,
              "registered_store_code": ctx.settings.store.fixmedins_code,
              "contract_start": today - timedelta(days=400), "contract_end": today + timedelta(days=900),
              "work_cert_no": f"SG-{username}", "work_cert_expiry": today + timedelta(days=300)} | changes
    with core_unit(engine) as u:
        set_staff_profile(u, ctx, id_of(find_user(orm(u), ctx, username)), values)


def _clean_store(engine: Engine, ctx: Ctx, *, drill: bool = True, skip_topic: str = "", signed_ago: int = 0) -> Ctx:
    """A store that keeps every rule the data can show: agreement and licences, qualified staff with
    certificates, two 医保 administrators, today's backup and a drill, every attestation, a training held."""
    seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    add_second_insurance_admin(engine, ctx)
    today = ctx.today
    with core_unit(engine) as u:
        update_profile(u, ctx, {"drug_licence_no": "粤AA0000001", "drug_licence_expiry": today + timedelta(days=500),
                                "business_licence_no": "91440000MA0000000X",
                                "business_licence_expiry": today + timedelta(days=900)})
        # signed today: no ended statement period waits to be declared (item 5 would rightly fail on one)
        record_agreement_event(u, ctx, AgreementStatus.ACTIVE, today - timedelta(days=signed_ago),
                               today + timedelta(days=365), "XY-1", "签订")
    for who in COUNTER:
        _profile(engine, ctx, who)
    manager = _acting(engine, ctx, "u_manager")
    with core_unit(engine) as u:  # as the backup and the drill record themselves (server.backup.runs)
        run = BackupRun(store_id=ctx.store_id, started_at=ctx.now, finished_at=ctx.now, business_date=today,
                        backend="sqlite", file_name="b.tar", directory="/mnt/b", ok=True, taken_by="test",
                        sealed=True)
        orm(u).add(run)
        audit.record_row(u, ctx.store_id, manager.actor, "backup.run", run)
        if drill:
            done = RestoreDrill(store_id=ctx.store_id, at=ctx.now, business_date=today, backup_file="b.tar",
                                target="/tmp/r.db", ok=True, drilled_by=manager.actor_id)
            orm(u).add(done)
            audit.record_row(u, ctx.store_id, manager.actor, "backup.drill", done)
    for topic in AttestationTopic:
        if topic.value != skip_topic:
            compliance.attest(engine, manager, topic.value, f"已核对{topic.label}")
    compliance.record_training(engine, manager, today, "医保政策与药品管理", "店长", list(COUNTER))
    return manager


def _verdicts(engine: Engine, ctx: Ctx) -> dict[int, Verdict]:
    done = compliance.run(engine, ctx, ctx.today, ctx.today)
    return {f.no: f.verdict for f in done.checklist.findings}


def _flagged(engine: Engine, ctx: Ctx) -> dict[int, Any]:
    findings = compliance.run(engine, ctx, ctx.today, ctx.today).checklist.findings
    return {f.no: f for f in findings if f.verdict is not Verdict.PASS and f.no not in NOT_YET_IN_THE_DATA | BY_HAND}


def test_a_clean_store_passes_every_item_the_data_can_prove(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    verdicts = _verdicts(engine, manager)
    assert len(verdicts) == 26
    assert {n for n, v in verdicts.items() if v is Verdict.PASS} == PASSING
    assert {n for n, v in verdicts.items() if v is Verdict.MANUAL} == NOT_YET_IN_THE_DATA | BY_HAND
    assert not [n for n, v in verdicts.items() if v is Verdict.FAIL]


@SQLITE_ONLY
@pytest.mark.refuses("AGR-01")
def test_a_licence_expired_yesterday_is_flagged_on_item_1_alone(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    with core_unit(engine) as u:
        update_profile(u, manager, {"drug_licence_expiry": ctx.today - timedelta(days=1)})
    flagged = _flagged(engine, manager)
    assert set(flagged) == {1}
    assert flagged[1].verdict is Verdict.FAIL and "过期" in flagged[1].evidence[0]["zh"]
    assert any(c.what_zh == "药品经营许可证到期" and c.days_left == -1 for c in flagged[1].countdowns)


@SQLITE_ONLY
@pytest.mark.refuses("SEC-05")
def test_a_store_that_never_drilled_a_restore_is_flagged_on_item_9_alone(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx, drill=False)
    flagged = _flagged(engine, manager)
    assert set(flagged) == {9}
    assert flagged[9].evidence[0]["en"] == "never a restore drill"


@SQLITE_ONLY
@pytest.mark.refuses("SEC-06")
def test_a_clear_backup_is_to_be_confirmed_on_item_9_never_passed(engine: Engine, ctx: Ctx) -> None:
    """SEC-05 does not ask for encryption, so a clear backup fails no rule; but it carries whole identity numbers to
    another device (SEC-06): a person confirms where it is kept. The store that seals its backups passes."""
    manager = _clean_store(engine, ctx)
    assert _verdicts(engine, manager)[9] is Verdict.PASS  # its backup today is sealed
    with core_unit(engine) as u:  # a second backup the same day, without the key
        run = BackupRun(store_id=ctx.store_id, started_at=ctx.now, finished_at=ctx.now, business_date=ctx.today,
                        backend="sqlite", file_name="clear.tar", directory="/mnt/b", ok=True, taken_by="cron")
        orm(u).add(run)
        audit.record_row(u, ctx.store_id, manager.actor, "backup.run", run)
    flagged = _flagged(engine, manager)
    assert set(flagged) == {9} and flagged[9].verdict is Verdict.MANUAL
    assert [e["file"] for e in flagged[9].evidence] == ["clear.tar"] and "未加密" in flagged[9].summary_zh
    with core_unit(engine) as u:  # a failed clear one is no backup at all: item 9 still fails on the day only if
        run = BackupRun(store_id=ctx.store_id, started_at=ctx.now, finished_at=ctx.now,  # no other succeeded
                        business_date=ctx.today - timedelta(days=1), backend="sqlite", ok=False, error="disk full",
                        taken_by="cron")
        orm(u).add(run)
        audit.record_row(u, ctx.store_id, manager.actor, "backup.run", run)
    done = compliance.run(engine, manager, ctx.today - timedelta(days=1), ctx.today).checklist.findings
    assert done[8].no == 9 and done[8].verdict is Verdict.FAIL  # a failure is not softened to 需人工确认


@SQLITE_ONLY
@pytest.mark.refuses("SEC-06")
def test_item_14_shows_who_read_whose_full_record(engine: Engine, ctx: Ctx) -> None:
    from server.privacy import record_read, record_reads

    manager = _clean_store(engine, ctx)
    admin = _acting(engine, ctx, "u_insurance_admin")
    with core_unit(engine) as u:
        record_read(u, ctx.store_id, manager.actor, "11010519491231002X", "张三", "prescription RX1", "医保稽核抽查",
                    "GET /prescriptions")
        record_reads(u, ctx.store_id, admin.actor, [("P1", "11010519491231002X", "张三"),
                                                    ("P1", "11010519491231002X", "张三"), ("P2", "", "李四")],
                     "card_statement", "报送经办机构", "GET /reports/card-statement/agency")
    findings = {f.no: f for f in compliance.run(engine, manager, ctx.today, ctx.today).checklist.findings}
    f = findings[14]
    assert f.verdict is Verdict.PASS and "2 次" in f.summary_zh
    latest, first = f.evidence
    assert (latest["by"], latest["route"], latest["persons"]) == ("u_insurance_admin",
                                                                 "GET /reports/card-statement/agency", 2)
    assert latest["whose"] == "张三 1101**********002X、李四 P2"
    assert (first["by"], first["route"], first["why"]) == ("u_manager", "GET /prescriptions", "医保稽核抽查")
    assert "11010519491231002X" not in json.dumps([x.__dict__ for x in findings.values()], default=str)


@SQLITE_ONLY
@pytest.mark.refuses("SEC-03")
def test_an_account_left_open_after_its_contract_ended_is_flagged_on_item_12(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    _profile(engine, manager, "u_cashier", contract_end=ctx.today - timedelta(days=1))
    findings = {f.no: f for f in compliance.run(engine, manager, ctx.today, ctx.today).checklist.findings}
    assert findings[12].verdict is Verdict.FAIL and findings[12].evidence[0]["user"] == "u_cashier"
    assert set(_flagged(engine, manager)) == set()  # nothing else moved
    with core_unit(engine) as u:  # frozen, the finding goes
        freeze_user(u, manager, id_of(find_user(orm(u), ctx, "u_cashier")), "离职")
    assert _verdicts(engine, manager)[12] is Verdict.MANUAL


@SQLITE_ONLY
@pytest.mark.refuses("STAFF-01")
def test_a_pharmacist_whose_registration_lapsed_is_flagged_on_item_15(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    _profile(engine, manager, "u_pharmacist", qualification_expiry=ctx.today - timedelta(days=1))
    flagged = _flagged(engine, manager)
    assert set(flagged) == {15}
    assert flagged[15].evidence[0]["user"] == "u_pharmacist"


@SQLITE_ONLY
@pytest.mark.refuses("STAFF-02")
def test_one_insurance_administrator_left_is_flagged_on_item_16(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    with core_unit(engine) as u:
        freeze_user(u, manager, id_of(find_user(orm(u), ctx, SECOND_INSURANCE_ADMIN)), "调离")
    flagged = _flagged(engine, manager)
    assert set(flagged) == {16}
    assert "fewer than 2" in flagged[16].evidence[0]["en"]


@SQLITE_ONLY
def test_a_missing_attestation_is_to_be_confirmed_never_passed(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx, skip_topic="antivirus")
    flagged = _flagged(engine, manager)
    assert set(flagged) == {13} and flagged[13].verdict is Verdict.MANUAL
    assert "实时杀毒软件" in flagged[13].summary_zh


@SQLITE_ONLY
@pytest.mark.refuses("SEC-06", "SEC-04")
def test_a_whole_id_number_slipped_into_a_receipt_is_flagged_with_the_edit_itself(engine: Engine, ctx: Ctx) -> None:
    """Written behind the service's back (the service masks): the print-out is named, and so is the edit — in the
    chain (10) and among the receipt stubs an inspector may ask for (7)."""
    manager = _clean_store(engine, ctx)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO print_job (store_id, till_code, kind, ref, reprint, document, status, attempts, "
                          "last_error, created_at) VALUES (:s, 'T01', 'receipt', 'x', false, :d, 'printed', 1, '', :at)"),
                     {"s": ctx.store_id, "at": ctx.now,
                      "d": json.dumps({"lines": ["参保人 张三 11010519491231002X"]}, ensure_ascii=False)})
    flagged = _flagged(engine, manager)
    assert set(flagged) == {7, 10, 14}
    assert flagged[14].evidence[0]["id"] == "1101**********002X"  # named, and itself masked
    assert "11010519491231002X" not in json.dumps([f.__dict__ for f in flagged.values()], default=str)


@SQLITE_ONLY
@pytest.mark.refuses("SEC-01", "SEC-04")
def test_a_post_approved_by_its_own_holder_is_flagged_with_the_edit_itself(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    with engine.begin() as conn:
        conn.execute(text("UPDATE user_role SET approved_by = user_id WHERE user_id = "
                          "(SELECT id FROM app_user WHERE username = 'u_cashier')"))
    flagged = _flagged(engine, manager)
    assert set(flagged) == {10, 11}
    assert flagged[11].evidence[0]["user"] == "u_cashier"


@SQLITE_ONLY
def test_attestations_and_training_are_refused_when_empty_or_unknown(engine: Engine, ctx: Ctx) -> None:
    manager = _clean_store(engine, ctx)
    for topic, note in (("moon_landing", "x"), ("sign", "  ")):
        with pytest.raises(AppError) as bad:
            compliance.attest(engine, manager, topic, note)
        assert bad.value.status == 422
    with pytest.raises(AppError) as ghost:
        compliance.record_training(engine, manager, ctx.today, "培训", "店长", ["u_cashier", "u_nobody"])
    assert "u_nobody" in ghost.value.message_en
    with pytest.raises(AppError):
        compliance.record_training(engine, manager, ctx.today + timedelta(days=1), "培训", "店长", ["u_cashier"])
    with engine.begin() as conn, pytest.raises(Exception, match=r"refuses|不可"):  # the records are evidence
        conn.execute(text("UPDATE attestation SET valid_until = '2099-01-01'"))


@SQLITE_ONLY
def test_the_command_line_exits_non_zero_on_a_failed_item_and_shows_what_changed(
        engine: Engine, ctx: Ctx, settings: Settings, tmp_path: Path) -> None:
    from server.cli import app

    manager = _clean_store(engine, ctx)
    engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(Path("config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    day = ctx.today.isoformat()
    runner = CliRunner()
    clean = runner.invoke(app, ["checklist", "--from", day, "--to", day, "--config", str(config)])
    assert clean.exit_code == 0, clean.output
    assert "[合格] 医保协议有效" in clean.output and "[需人工确认]" in clean.output
    with core_unit(engine) as u:
        update_profile(u, manager, {"drug_licence_expiry": ctx.today - timedelta(days=1)})
    broken = runner.invoke(app, ["checklist", "--from", day, "--to", day, "--config", str(config)])
    assert broken.exit_code == 1
    assert "[不合格] 医保协议有效" in broken.output and "第 1 项：pass → fail" in broken.output
    as_json = runner.invoke(app, ["checklist", "--from", day, "--to", day, "--json", "--config", str(config)])
    assert json.loads(as_json.output)["findings"][0]["verdict"] == "fail"
    bad_day = runner.invoke(app, ["checklist", "--from", "2026-13-01", "--config", str(config)])
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output


@SQLITE_ONLY
@pytest.mark.refuses("SEC-01")
def test_the_api_reads_to_the_manager_and_takes_attestations_from_the_person_in_charge_only(
        engine: Engine, ctx: Ctx, client: Any) -> None:
    from tests.conftest import ROLE_PINS, login

    _clean_store(engine, ctx)
    manager, cashier = login(client, "u_manager", ROLE_PINS["manager"]), login(client, "u_cashier", ROLE_PINS["cashier"])
    day = ctx.today.isoformat()
    r = client.get(f"/checklist?from={day}&to={day}", headers=manager)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["failed"] == 0 and {f["no"] for f in body["findings"] if f["verdict"] == "pass"} == PASSING
    assert client.get("/checklist", headers=cashier).status_code == 403
    attest = {"topic": "sign", "note": "标牌已悬挂"}
    refused = client.post("/attestations", json=attest, headers=cashier)
    assert refused.status_code == 403
    ok = client.post("/attestations", json=attest, headers=manager)
    assert ok.status_code == 201, ok.text
    assert ok.json()["valid_until"] == (ctx.today + timedelta(days=365)).isoformat()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM attestation WHERE topic = 'sign'")).scalar_one() == 2
    bad = client.post("/attestations", json={"topic": "sign", "note": "x", "photo_b64": "不是图片"}, headers=manager)
    assert bad.status_code == 422


@SQLITE_ONLY
@pytest.mark.refuses("ST-05")
def test_an_ended_period_never_declared_is_flagged_on_item_5(engine: Engine, ctx: Ctx) -> None:
    """The agreement ran through last month and nothing was declared for it: the money the fund owes is never
    asked for (item 5, from the receivables wing's own rows)."""
    manager = _clean_store(engine, ctx, signed_ago=70)
    flagged = _flagged(engine, manager)
    assert 5 in flagged and flagged[5].verdict is Verdict.FAIL
    assert any("未申报" in e["zh"] for e in flagged[5].evidence), flagged[5].evidence
