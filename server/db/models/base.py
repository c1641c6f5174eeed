"""Shared column helpers. Every business row carries its store id (chain mode: many stores, one PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db.types import UTCDateTime, utcnow


def store_fk() -> int:
    return Field(foreign_key="store.id", index=True, nullable=False)


def created_at() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Table(SQLModel):
    """Marker base: class attributes a model may declare for the audit log.

    __audit_exclude__: columns left out of audit images because they change without being business
    data (a failed-PIN counter, a password hash that must never be copied into the log).

    __audit_mask__: identity numbers kept whole in the row but masked in the log (SEC-06).
    """

    __audit_exclude__: tuple[str, ...] = ()
    __audit_mask__: tuple[str, ...] = ()
