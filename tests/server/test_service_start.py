"""SEC-04: every start of the service records the configuration it runs with — a digest, the keys changed since
the last start, the DINGDIAN_* overrides by name — audited and attributed to whoever started it (issue #17)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from server import audit
from server.db.models import AuditEntry, ServiceStart
from server.db.uow import read_session
from server.services.context import Ctx
from server.services.store.starts import record_start, who_started
from tests.conftest import make_settings


def _starts(engine: Engine, ctx: Ctx) -> list[ServiceStart]:
    with read_session(engine) as s:
        return list(s.exec(select(ServiceStart).where(ServiceStart.store_id == ctx.store_id)
                           .order_by(col(ServiceStart.id))))


def test_the_service_records_its_settings_at_start(client: Any, engine: Engine, ctx: Ctx) -> None:
    (start,) = _starts(engine, ctx)  # create_app (the client fixture) started it once
    assert start.started_by == who_started() and start.started_by.startswith("os:")
    assert start.changed == [] and start.settings["store.fixmedins_code"] == json.dumps(ctx.settings.store.fixmedins_code)
    assert len(start.digest) == 64 and start.file_digest
    with read_session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "config.start")).one()
        assert entry.actor == start.started_by and entry.entity == "service_start" and entry.user_id is None
        assert audit.verify(s, ctx.store_id).ok


@pytest.mark.refuses("SEC-04")
def test_a_changed_setting_and_an_override_are_named_at_the_next_start(engine: Engine, ctx: Ctx, settings: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = record_start(engine, settings, ctx.store_id, "os:alice")
    again = record_start(engine, settings, ctx.store_id, "os:alice")
    assert again.changed == [] and again.digest == first.digest
    monkeypatch.setenv("DINGDIAN_INSURANCE__SECRET_KEY", "s3cr3t-v4lue")
    changed = make_settings(settings.database.url, rules={"near_expiry_days": 30})
    third = record_start(engine, changed, ctx.store_id, "os:bob")
    assert third.changed == ["insurance.secret_key", "rules.near_expiry_days"]
    assert third.digest != first.digest and "DINGDIAN_INSURANCE__SECRET_KEY" in third.overrides
    assert third.settings["insurance.secret_key"].startswith("sha256:")  # a secret: its digest, never itself
    with read_session(engine) as s:
        entries = list(s.exec(select(AuditEntry).where(AuditEntry.action == "config.start")
                              .order_by(col(AuditEntry.seq))))
        assert [e.actor for e in entries] == ["os:alice", "os:alice", "os:bob"]
        assert "rules.near_expiry_days" in entries[-1].note
        assert all("s3cr3t-v4lue" not in json.dumps(e.after, ensure_ascii=False) for e in entries)
        assert audit.verify(s, ctx.store_id).ok
