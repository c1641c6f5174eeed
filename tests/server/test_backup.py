"""Backups while the store sells, restores into a new database verified before use, and restore drills (SEC-05).

The walk-arounds: a backup directory on the database's own disk; a backup file changed after it was written (its
checksum file rewritten too); a backup whose database was edited and whose checksums were all recomputed (only the
audit chain can tell); a restore over a live database; a backup or drill row edited afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import sqlite3
import tarfile
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from server.audit import Actor
from server.backup import archive, retention
from server.backup.archive import Manifest
from server.backup.runs import backup_now, drill
from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit
from server.errors import AppError
from server.roles import Role
from server.services.context import Ctx
from server.services.stock import batches as stock
from server.services.store.users import add_user
from server.workers.backup import next_run
from tests.conftest import ROLE_PINS, add_role_users, seed_shop
from tests.service import start_service

SH = ZoneInfo("Asia/Shanghai")
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the file-level walk-arounds
OTHER_DEVICE = Path("/dev/shm")  # tmpfs: another device than the tests' databases (checked in the fixture)


@pytest.fixture
def backup_dir(tmp_path: Path) -> Any:
    if not OTHER_DEVICE.is_dir() or os.stat(OTHER_DEVICE).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second device (/dev/shm) on this machine")
    where = OTHER_DEVICE / f"dingdian-test-{uuid.uuid4().hex[:8]}"
    yield where
    shutil.rmtree(where, ignore_errors=True)


def _sysadmin(engine: Engine, ctx: Ctx) -> Ctx:
    with core_unit(engine) as u:
        user = add_user(u, ctx, "u_backup_admin", "维护员", ROLE_PINS["sysadmin"], {Role.SYSADMIN})
        return ctx.acting(Actor(id_of(user), user.username))


def _target(backend: str, settings: Settings, tmp_path: Path, name: str) -> str:
    if backend == "sqlite":
        return str(tmp_path / "restored" / f"{name}.db")
    return make_url(settings.database.url).set(database=f"r_{name}_{uuid.uuid4().hex[:8]}").render_as_string(
        hide_password=False)


# --- pure ------------------------------------------------------------------------------------------------

def test_retention_keeps_each_days_newest_each_months_newest_and_always_the_last() -> None:
    today = date(2026, 12, 7)
    taken = [(f"b{n}", datetime(2026, 12, 7, 2, 30, tzinfo=SH) - timedelta(days=n)) for n in range(120)]
    taken.append(("b0-later", datetime(2026, 12, 7, 14, 0, tzinfo=SH)))
    doomed = set(retention.to_delete(taken, today, keep_days=14, keep_months=3))
    kept = {name for name, _ in taken} - doomed
    assert "b0-later" in kept and "b0" in doomed  # the day's newest only
    assert {f"b{n}" for n in range(1, 14)} <= kept and "b14" in doomed
    # the newest of each of the last three months: December's and November's (30 Nov, b7) are among the days';
    # October's is its 31st (b37); September's and older go
    assert "b37" in kept and "b38" in doomed and "b100" in doomed
    assert len(kept) == 14 + 1
    # whatever the clock says, the newest backup stays
    assert retention.to_delete([("only", datetime(2020, 1, 1, tzinfo=SH))], today, 1, 0) == []


def test_the_daily_run_is_at_the_stores_time_not_the_machines() -> None:
    assert next_run(datetime(2026, 12, 7, 18, 0, tzinfo=UTC), "02:30", SH) == datetime(2026, 12, 8, 2, 30, tzinfo=SH)
    assert next_run(datetime(2026, 12, 7, 18, 31, tzinfo=UTC), "02:30", SH) == datetime(2026, 12, 9, 2, 30,
                                                                                        tzinfo=SH)
    assert next_run(datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "23:59", SH) == datetime(2027, 1, 1, 23, 59,
                                                                                        tzinfo=SH)


# --- refusals --------------------------------------------------------------------------------------------

@pytest.mark.refuses("SEC-05")
def test_a_backup_on_the_databases_own_disk_is_refused_and_recorded_as_failed(engine: Engine, ctx: Ctx,
                                                                              tmp_path: Path) -> None:
    seed_shop(engine, ctx)
    same_disk = tmp_path / "backups"
    with pytest.raises(AppError) as refused:
        backup_now(engine, ctx, "test", same_disk)
    assert refused.value.code == "SEC-05" and "同一块磁盘" in refused.value.message_zh
    assert "same device" in refused.value.message_en
    assert not any(same_disk.glob("*.tar"))
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT ok, error FROM backup_run")).all()
    assert [r.ok for r in runs] == [False] and "same device" in runs[0].error
    with pytest.raises(AppError) as unset:
        backup_now(engine, ctx, "test")  # and none configured at all
    assert unset.value.code == "SEC-05"


@SQLITE_ONLY
@pytest.mark.refuses("SEC-05")
def test_a_changed_backup_is_not_restored_and_the_drill_says_why(engine: Engine, ctx: Ctx, tmp_path: Path,
                                                                 backup_dir: Path) -> None:
    seed_shop(engine, ctx)
    admin = _sysadmin(engine, ctx)
    done = backup_now(engine, ctx, "test", backup_dir)
    path = done.taken.path

    # 1. a byte of the file changed, its .sha256 left: named by the checksum file
    flipped = tmp_path / "flipped" / path.name
    flipped.parent.mkdir()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(data)
    shutil.copy(path.with_name(path.name + ".sha256"), flipped.with_name(path.name + ".sha256"))
    row, report = drill(engine, admin, flipped, str(tmp_path / "r1.db"))
    assert not report.ok and not row.ok and report.problems[0]["kind"] == "backup"
    assert not (tmp_path / "r1.db").exists()

    # 2. the database inside edited (a batch's stock raised), and every checksum recomputed to match: the
    # manifest, the payload's SHA-256, the .sha256 — only the audit chain can tell
    # a batch's stock raised by 100, its opening movement too, so the two still agree
    forged = _forge(path, tmp_path / "forged", "UPDATE batch_balance SET qty = qty + 100 WHERE batch_id = 1; "
                    "UPDATE stock_movement SET qty = qty + 100 WHERE batch_id = 1")
    row, report = drill(engine, admin, forged, str(tmp_path / "r2.db"))
    assert not report.ok
    altered = [p for p in report.problems if p.get("table") == "stock_movement"]
    assert altered and "qty" in str(altered[0]), report.problems
    assert not (tmp_path / "r2.db").exists() and not list(tmp_path.glob(".r2.db*"))

    # 3. a restore over an existing database is refused, the database untouched
    live = make_url(ctx.settings.database.url).database or ""
    before = hashlib.sha256(Path(live).read_bytes()).hexdigest()
    row, report = drill(engine, admin, path, live)
    assert not report.ok and report.problems[0]["kind"] == "SEC-05"
    assert hashlib.sha256(Path(live).read_bytes()).hexdigest() == before

    with engine.connect() as conn:
        drills = conn.execute(text("SELECT ok, drilled_by FROM restore_drill ORDER BY id")).all()
    assert [d.ok for d in drills] == [False, False, False]
    assert {d.drilled_by for d in drills} == {admin.actor_id}


def _forge(path: Path, into: Path, statement: str) -> Path:
    """What someone with the file and a text editor could do: change the database and recompute every checksum."""
    into.mkdir()
    manifest = archive.read_manifest(path)
    db = into / "db.sqlite3"
    with tarfile.open(path) as tar:
        member = tar.extractfile(manifest.payload)
        assert member is not None
        db.write_bytes(gzip.decompress(member.read()))
    conn = sqlite3.connect(db)
    with conn:
        for trigger in [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
            conn.execute(f"DROP TRIGGER {trigger}")  # the file is theirs: no guard stops them
        conn.executescript(statement)
    conn.close()
    payload = into / manifest.payload
    payload.write_bytes(gzip.compress(db.read_bytes()))
    forged = Manifest(**{**manifest.__dict__, "payload_sha256": archive.sha256_of(payload),
                         "payload_bytes": payload.stat().st_size})
    target = into / path.name
    archive.write(target, forged, payload)
    return target


# --- the backup while the store sells, restored whole --------------------------------------------------------

@pytest.mark.slow
def test_a_backup_during_a_stream_of_sales_restores_every_acknowledged_sale(backend: str, engine: Engine, ctx: Ctx,
                                                                           settings: Settings, tmp_path: Path,
                                                                           backup_dir: Path) -> None:
    items = seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    with core_unit(engine) as u:
        add_user(u, ctx, "u_cashier2", "收银员二", "5555", {Role.CASHIER})
        stock.add_opening_batch(u, ctx, items["vitc"], None, "B-VITC-BULK", "LB", ctx.today - timedelta(days=30),
                                ctx.today + timedelta(days=700), 200, 100_000)
    admin = _sysadmin(engine, ctx)
    base, stop = start_service(settings, tmp_path)
    acked: dict[str, dict[str, Any]] = {}
    lock, halt = threading.Lock(), threading.Event()

    def till(code: str, username: str, pin: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            token = c.post("/auth/login", json={"username": username, "pin": pin, "till_code": code}).json()["token"]
            c.headers["Authorization"] = f"Bearer {token}"
            assert c.post("/shifts", json={"float_fen": 0}).status_code == 201
            while not halt.is_set():
                sid = str(uuid.uuid4())
                c.post("/sales", json={"id": sid})
                sale = c.post(f"/sales/{sid}/lines", json={"item_id": items["vitc"], "qty": 1 + len(acked) % 3}).json()
                total = sale["total_fen"]
                r = c.post(f"/sales/{sid}/complete", json={"tenders": [
                    {"kind": "cash", "amount_fen": total, "tendered_fen": total}]})
                assert r.status_code == 200, r.text
                with lock:
                    acked[sid] = {"total_fen": total, "lines": 1}

    tills = [threading.Thread(target=till, args=args, daemon=True)
             for args in (("T01", "u_cashier", ROLE_PINS["cashier"]), ("T02", "u_cashier2", "5555"))]
    try:
        for t in tills:
            t.start()
        while len(acked) < 6:
            halt.wait(0.02)
        with lock:
            before = dict(acked)  # acknowledged before the backup began
        done = backup_now(engine, ctx, "test", backup_dir)
        while len(acked) < len(before) + 4:  # the tills went on selling through it
            halt.wait(0.02)
    finally:
        halt.set()
        for t in tills:
            t.join(timeout=30)
        stop()
    assert done.run.ok and done.taken.manifest.audit_heads[str(ctx.store_id)] == done.run.audit_head

    target = _target(backend, settings, tmp_path, "stream")
    row, report = drill(engine, admin, done.taken.path, target)
    assert report.ok, report.problems
    assert row.ok and row.backup_sha256 == done.run.sha256
    restored = _engine_of(backend, target)
    try:
        with restored.connect() as conn:
            sales = {r.id: r for r in conn.execute(text(
                "SELECT s.id, s.status, s.total_fen, (SELECT count(*) FROM sale_line l WHERE l.sale_id = s.id) AS n,"
                " (SELECT sum(t.amount_fen) FROM tender t WHERE t.sale_id = s.id) AS paid FROM sale s"))}
    finally:
        restored.dispose()
        if backend == "postgres":
            _drop(settings, make_url(target).database or "")
    for sid, seen in before.items():
        got = sales.get(sid)
        assert got is not None, f"sale {sid}, acknowledged before the backup began, is not in it"
        assert (got.status, got.total_fen, got.n, got.paid) == ("completed", seen["total_fen"], 1, seen["total_fen"])
    assert all(s.status in ("completed", "open") for s in sales.values())  # none half-written

    # the records are evidence: the database refuses their edit
    for statement in ("UPDATE backup_run SET ok = false", "DELETE FROM restore_drill"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))


def _drop(settings: Settings, name: str) -> None:
    import psycopg

    admin = make_url(settings.database.url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine_of(backend: str, target: str) -> Engine:
    from server.db.engine import make_engine

    return make_engine(f"sqlite:///{target}" if backend == "sqlite" else target)


# --- the command line --------------------------------------------------------------------------------------

@SQLITE_ONLY
def test_the_command_line_backs_up_without_a_pin_and_drills_only_as_a_named_maintainer(
        engine: Engine, ctx: Ctx, settings: Settings, tmp_path: Path, backup_dir: Path) -> None:
    from server.cli import app

    seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    _sysadmin(engine, ctx)
    engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(Path("config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"').replace(
        'dir = ""', f'dir = "{backup_dir}"'), encoding="utf-8")
    runner = CliRunner()
    took = runner.invoke(app, ["backup", "--config", str(config)])
    assert took.exit_code == 0, took.output
    path = next(backup_dir.glob("*.tar"))
    assert path.name in took.output and f"sha256 {archive.sha256_of(path)}" in took.output

    cashier = runner.invoke(app, ["restore", str(path), "--into", str(tmp_path / "c.db"), "--config", str(config),
                                  "--as", "u_cashier"], input=f"{ROLE_PINS['cashier']}\n")
    assert cashier.exit_code == 1 and "SEC-01" in cashier.output
    assert not (tmp_path / "c.db").exists()
    ok = runner.invoke(app, ["restore", str(path), "--into", str(tmp_path / "m.db"), "--config", str(config),
                             "--as", "u_backup_admin"], input=f"{ROLE_PINS['sysadmin']}\n")
    assert ok.exit_code == 0, ok.output
    assert "restored and verified" in ok.output and (tmp_path / "m.db").exists()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM restore_drill WHERE ok")).scalar_one() == 1
        audited = conn.execute(text("SELECT action FROM audit_entry WHERE action LIKE 'backup.%' ORDER BY seq")).all()
    assert [a.action for a in audited] == ["backup.run", "backup.drill"]


@SQLITE_ONLY
def test_a_manifest_says_what_the_file_holds(engine: Engine, ctx: Ctx, backup_dir: Path) -> None:
    seed_shop(engine, ctx)
    done = backup_now(engine, ctx, "test", backup_dir)
    m = archive.read_manifest(done.taken.path)
    with engine.connect() as conn:
        assert m.rows["batch"] == conn.execute(text("SELECT count(*) FROM batch")).scalar_one()
        head = conn.execute(text("SELECT seq, hash FROM audit_head WHERE store_id = :s"), {"s": ctx.store_id}).one()
    # the backup's own record is written after the snapshot: the head in the file is the one before it
    assert m.audit_heads[str(ctx.store_id)] == f"{head.seq - 1}:" + m.audit_heads[str(ctx.store_id)].split(":")[1]
    with tarfile.open(done.taken.path) as tar:
        assert sorted(tar.getnames()) == sorted([archive.MANIFEST, m.payload])
        member = tar.extractfile(m.payload)
        assert member is not None
        body = member.read()
    assert hashlib.sha256(body).hexdigest() == m.payload_sha256
    with gzip.open(io.BytesIO(body)) as raw:
        assert raw.read(16) == b"SQLite format 3\x00"
    assert archive.check_file(done.taken.path) == done.run.sha256
