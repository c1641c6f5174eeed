"""Sealed backups (SEC-05, SEC-06): with `[backup] key_file` set, a copied backup file shows no identity number, no
name, not even its manifest; a changed, cut or foreign-keyed one is refused at restore, bilingually, and nothing is
restored; the drill still works end to end with the key.

The walk-arounds: a byte of the file changed and its `.sha256` recomputed (what a checksum alone cannot catch); the
file cut short; another store's key; no key at all; the key kept inside the backup directory."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from reports import queries
from server import audit
from server.audit import Actor
from server.backup import archive, keys, sealed
from server.backup.runs import backup_now, drill
from server.config import Settings
from server.db.models import Prescription
from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.errors import AppError
from server.roles import Role
from server.services.context import Ctx
from server.services.store.users import add_user
from tests.conftest import ROLE_PINS, make_settings

PATIENT_ID = "110101199003077777"
PATIENT_NAME = "欧阳备份测试"
OTHER_DEVICE = Path("/dev/shm")


@pytest.fixture
def backup_dir(tmp_path: Path) -> Iterator[Path]:
    if not OTHER_DEVICE.is_dir() or os.stat(OTHER_DEVICE).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second device (/dev/shm) on this machine")
    where = OTHER_DEVICE / f"dingdian-test-{uuid.uuid4().hex[:8]}"
    yield where
    shutil.rmtree(where, ignore_errors=True)


def test_the_sealed_stream_round_trips_across_chunks_and_refuses_any_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sealed, "CHUNK", 64)
    key = sealed.new_key()
    for size in (0, 1, 63, 64, 65, 1000):
        plain = os.urandom(size)
        out = io.BytesIO()
        w = sealed.SealingWriter(out, key)
        w.write(plain[: size // 3])
        w.write(plain[size // 3:])
        w.close()
        body = out.getvalue()
        assert io.BufferedReader(sealed.OpeningReader(io.BytesIO(body), key, "f")).read() == plain
        assert size < 8 or plain[:8] not in body
        for cut in (body[:-1], body[: sealed.HEADER + 5], body + b"\x00"):
            with pytest.raises(archive.BadBackup):
                sealed.OpeningReader(io.BytesIO(cut), key, "f").read()
        for at in (sealed.HEADER - 1, sealed.HEADER, len(body) - 1):  # the nonce prefix, a frame's flag, a tag
            changed = bytearray(body)
            changed[at] ^= 0x01
            with pytest.raises(archive.BadBackup) as refused:
                sealed.OpeningReader(io.BytesIO(bytes(changed)), key, "f").read()
            assert "改动" in refused.value.message_zh and "changed" in refused.value.message_en


def _plant_patient(engine: Engine, ctx: Ctx) -> Ctx:
    """A maintainer, and a prescription carrying a whole identity number and a name (as the table holds them)."""
    with core_unit(engine) as u:
        user = add_user(u, ctx, "u_backup_admin", "维护员", ROLE_PINS["sysadmin"], {Role.SYSADMIN})
        admin = ctx.acting(Actor(id_of(user), user.username))
        rx = Prescription(store_id=ctx.store_id, rx_no="RX-SEALED-1", institution_code="H11010100001",
                          institution_name="测试医院", doctor_name="李医生", issued_on=ctx.today,
                          patient_name=PATIENT_NAME, patient_sex="女", patient_age=36, patient_certno=PATIENT_ID,
                          diagnosis="高血压", entered_by=id_of(user))
        orm(u).add(rx)
        audit.record_row(u, ctx.store_id, admin.actor, "rx.create", rx)
    return admin


@pytest.mark.refuses("SEC-05")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_sealed_backup_reveals_nothing_restores_with_its_key_and_a_changed_one_is_refused(
        engine: Engine, ctx: Ctx, settings: Settings, tmp_path: Path, backup_dir: Path) -> None:
    admin = _plant_patient(engine, ctx)
    # The clear backup first: the grep below would find the planted facts if they were there to find.
    clear_run = backup_now(engine, ctx, "test", backup_dir)
    clear = clear_run.taken
    assert not clear_run.run.sealed  # recorded clear: checklist item 9 asks a person to confirm where it is kept
    with tarfile.open(clear.path) as tar:
        member = tar.extractfile(clear.manifest.payload)
        assert member is not None
        assert PATIENT_ID.encode() in gzip.decompress(member.read())

    key_file = tmp_path / "keys" / "backup.key"
    key = keys.create(key_file)
    assert key_file.stat().st_mode & 0o077 == 0
    sealed_ctx = Ctx(ctx.store_id, make_settings(settings.database.url, backup={"key_file": str(key_file)}),
                     admin.actor, ctx.now)
    done = backup_now(engine, sealed_ctx, "test", backup_dir)
    assert done.run.sealed
    with engine.connect() as conn:  # as the checklist reads it
        assert [bool(r.sealed) for r in queries.backup_runs(conn, ctx.store_id)] == [False, True]
    body = done.taken.path.read_bytes()
    assert body.startswith(sealed.MAGIC) and not tarfile.is_tarfile(done.taken.path)
    for plain in (PATIENT_ID, PATIENT_ID[-8:], PATIENT_NAME, "维护员", "manifest.json", "prescription",
                  "SQLite format", ctx.settings.store.fixmedins_code):
        assert plain.encode() not in body, plain
    assert not list(backup_dir.glob(".backup-*"))  # no clear scratch copy left on the backup's disk

    # whoever holds the key restores it, verified; the drill is recorded
    row, report = drill(engine, sealed_ctx, done.taken.path, str(tmp_path / "restored.db"))
    assert report.ok, report.problems
    assert row.ok and row.backup_sha256 == done.run.sha256
    restored = tmp_path / "restored.db"
    assert PATIENT_ID.encode() in restored.read_bytes()

    # 1. a byte in the middle changed and its .sha256 recomputed: the checksum agrees, the seal does not
    changed = tmp_path / "changed" / done.taken.path.name
    changed.parent.mkdir()
    data = bytearray(body)
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(data)
    changed.with_name(changed.name + ".sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {changed.name}\n")
    # 2. the file cut short (its checksum dropped)
    cut = tmp_path / "cut" / done.taken.path.name
    cut.parent.mkdir()
    cut.write_bytes(body[: len(body) - 100])
    for path, target, said in ((changed, "r1.db", "changed"), (cut, "r2.db", "changed")):
        row, report = drill(engine, sealed_ctx, path, str(tmp_path / target))
        assert not report.ok and not row.ok
        assert report.problems[0]["kind"] == "backup" and said in report.problems[0]["message_en"], report.problems
        assert "拒绝恢复" in report.problems[0]["message_zh"]
        assert not (tmp_path / target).exists() and not list(tmp_path.glob(f".{target}*"))

    # 3. another key (another store's, or a new one made after a loss): named as such, nothing restored
    other = tmp_path / "other.key"
    keys.create(other)
    row, report = drill(engine, sealed_ctx, done.taken.path, str(tmp_path / "r3.db"), other)
    assert not report.ok and "another key" in report.problems[0]["message_en"]
    assert sealed.key_id(key) in report.problems[0]["message_en"]
    # 4. no key configured at all
    row, report = drill(engine, ctx.acting(admin.actor), done.taken.path, str(tmp_path / "r4.db"))
    assert not report.ok and "no backup key" in report.problems[0]["message_en"]
    assert not any((tmp_path / f"r{n}.db").exists() for n in (3, 4))

    # 5. the key kept inside the backup directory: the backup is refused before it is written
    inside = backup_dir / "backup.key"
    shutil.copy(key_file, inside)
    careless = Ctx(ctx.store_id, make_settings(settings.database.url, backup={"key_file": str(inside)}), admin.actor,
                   ctx.now)
    before = sorted(p.name for p in backup_dir.glob("*.tar"))
    with pytest.raises(AppError) as refused:
        backup_now(engine, careless, "test", backup_dir)
    assert refused.value.code == "SEC-05" and "backup directory" in refused.value.message_en
    assert "备份目录" in refused.value.message_zh
    assert sorted(p.name for p in backup_dir.glob("*.tar")) == before

    with engine.connect() as conn:
        drills = conn.execute(text("SELECT ok FROM restore_drill ORDER BY id")).scalars().all()
        runs = conn.execute(text("SELECT ok FROM backup_run ORDER BY id")).scalars().all()
    assert drills == [True, False, False, False, False] and runs == [True, True, False]


def test_the_command_line_makes_a_key_once_and_never_over_an_old_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from server.cli import app

    runner, key_file = CliRunner(), tmp_path / "k" / "backup.key"
    made = runner.invoke(app, ["backup-key", "--out", str(key_file)])
    assert made.exit_code == 0, made.output
    key = keys.load(key_file)
    assert key is not None and sealed.key_id(key) in made.output
    again = runner.invoke(app, ["backup-key", "--out", str(key_file)])
    assert again.exit_code == 1 and "SEC-05" in again.output and "not overwritten" in again.output
    assert keys.load(key_file) == key
