"""The store's backups and restore drills (SEC-05): what was written where, and which restore proved it whole.

Both are evidence the checklist reads (a backup within a day, a drill within the configured period), so both
are append-only: a failed backup or drill is its own row, never an edit of an earlier one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class BackupRun(Table, table=True):
    """One backup: the file it wrote (name, size, SHA-256 of the whole file) and what its manifest holds."""

    __tablename__ = "backup_run"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    business_date: date
    backend: str = Field(max_length=12)  # sqlite | postgresql
    file_name: str = Field(default="", max_length=200)  # in the backup directory; "" when it failed
    directory: str = Field(default="", max_length=400)
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    sha256: str = Field(default="", max_length=64)
    revision: str = Field(default="", max_length=32)  # the schema's migration head in the backup
    audit_head: str = Field(default="", max_length=90)  # this store's chain head in the backup (seq:hash)
    ok: bool = False
    error: str = Field(default="", max_length=400)
    taken_by: str = Field(max_length=60)  # "service" for the daily run, the user or cron's login otherwise
    sealed: bool = False  # encrypted with the store's key ([backup] key_file); a clear one holds whole ID numbers


class RestoreDrill(Table, table=True):
    """One restore drill: a backup restored into a new database and verified before it could be used."""

    __tablename__ = "restore_drill"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    at: datetime = Field(sa_type=UTCDateTime)
    business_date: date
    backup_file: str = Field(max_length=200)
    backup_sha256: str = Field(default="", max_length=64)
    backup_taken_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    target: str = Field(max_length=400)  # where it was restored (a path, or a database name; never a password)
    ok: bool = False
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)
    elapsed_ms: int = 0
    drilled_by: int = Field(foreign_key="app_user.id")
