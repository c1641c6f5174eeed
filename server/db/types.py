"""Column types shared by the models: UTC timestamps and JSON that both SQLite and PostgreSQL keep."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The one clock: every "now" the service uses comes from here (tests freeze it with time-machine)."""
    return datetime.now(UTC)


def business_day(at: datetime, tz: tzinfo) -> date:
    """The store's business day at an instant: the date in the store's zone, never the machine's."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given; a business day is judged from an aware instant")
    return at.astimezone(tz).date()


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC; always handed back timezone-aware (SQLite forgets the zone, PostgreSQL does not)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times are stored in UTC and must carry a zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents (audit before/after images, admitted class lists). Plain JSON on both backends
# so the same migrations run everywhere.
JSONDoc = JSON
