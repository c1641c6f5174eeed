"""The audit log and the service's health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    rows_checked: int
    problems: list[dict[str, Any]]


class HealthOut(BaseModel):
    status: str
    database: str
    backend: str
    migrations: dict[str, Any]
    configuration: dict[str, Any]
    store: dict[str, Any]
    all_routes: str = "ready"  # "loading" for the moment after a start (server.api.routers)
