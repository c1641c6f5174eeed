"""The audit log: one hash-chained entry per business write, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class AuditEntry(Table, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("store_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    seq: int  # 1, 2, 3 … per store, no gaps
    at: datetime = Field(sa_type=UTCDateTime)
    user_id: int | None = None  # no FK: the log outlives whatever it names
    actor: str = Field(default="", max_length=50)  # username at the time, or "system"
    action: str = Field(max_length=60)  # e.g. item.create, user.freeze
    entity: str = Field(max_length=40)  # table name
    entity_id: str = Field(max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)
    note: str = Field(default="", max_length=500)  # the reason given, where the action needs one
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(Table, table=True):
    """The end of each store's chain. Appending locks this row, so entries are strictly sequential."""

    __tablename__ = "audit_head"

    store_id: int = Field(foreign_key="store.id", primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


class ServiceStart(Table, table=True):
    """A start of the service and the configuration it started with (SEC-04: a change of the settings is a
    maintenance change, logged with who, when and what). Append-only; each row is audited as it is written."""

    __tablename__ = "service_start"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    at: datetime = Field(sa_type=UTCDateTime)
    started_by: str = Field(max_length=80)  # who started it: the OS user, until the CLI's named login (#17)
    digest: str = Field(max_length=64)  # of the settings in force
    source_file: str = Field(default="", max_length=300)
    file_digest: str = Field(default="", max_length=64)  # of config.toml's bytes
    overrides: list[str] = Field(default_factory=list, sa_type=JSONDoc)  # the DINGDIAN_* variables set
    settings: dict[str, str] = Field(default_factory=dict, sa_type=JSONDoc)  # key -> value (a secret: its digest)
    changed: list[str] = Field(default_factory=list, sa_type=JSONDoc)  # keys that differ from the last start's
