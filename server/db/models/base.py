"""Shared column helpers. Every business row carries its store id (chain mode: many stores, one PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table as CoreTable
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Field, SQLModel

from server.db.types import UTCDateTime, utcnow


def store_fk() -> int:
    return Field(foreign_key="store.id", index=True, nullable=False)


def created_at() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Keyed(Protocol):
    """A row with an autoincrement integer key, declared `id: int | None` (None until it is inserted)."""

    @property
    def id(self) -> int | None: ...


def id_of(row: Keyed) -> int:
    """The key of a row that has been inserted (flushed) or loaded: where the caller knows it is not None."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id before it is flushed")
    return row.id


def table_of(model: type[SQLModel]) -> CoreTable:
    """A model's Core table, for statements written in Core (SQLModel declares no `__table__` attribute)."""
    table = sa_inspect(model).local_table
    if not isinstance(table, CoreTable):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def key_of(row: SQLModel) -> Any:
    """The primary key of a flushed or loaded row: its one column's value (a tuple for a composite key)."""
    identity = sa_inspect(row).identity
    if identity is None:
        raise ValueError(f"{type(row).__name__} has no key before it is flushed")
    return identity[0] if len(identity) == 1 else identity


class Table(SQLModel):
    """Marker base: class attributes a model may declare for the audit log.

    __audit_exclude__: columns left out of audit images because they change without being business
    data (a failed-PIN counter, a password hash that must never be copied into the log).

    __audit_mask__: identity numbers kept whole in the row but masked in the log (SEC-06).

    __audit_digest__: bulky columns (a printed document) the log keeps as a SHA-256 digest, not whole: the
    chain still covers them, the log stays small.
    """

    __audit_exclude__: tuple[str, ...] = ()
    __audit_mask__: tuple[str, ...] = ()
    __audit_digest__: tuple[str, ...] = ()
