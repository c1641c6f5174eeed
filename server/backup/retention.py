"""Which backups to keep: the newest of each of the last `keep_days` days and of each of the last `keep_months`
months (grandfather-father-son), and always the newest one — whatever the clock says."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime


def to_delete(backups: Iterable[tuple[str, datetime]], today: date, keep_days: int, keep_months: int) -> list[str]:
    """The names to delete, of `backups` (name, taken at, in the store's zone)."""
    newest_first = sorted(backups, key=lambda b: b[1], reverse=True)
    if not newest_first:
        return []
    keep = {newest_first[0][0]}
    days_seen: set[date] = set()
    months_seen: set[tuple[int, int]] = set()
    for name, at in newest_first:
        day, month = at.date(), (at.year, at.month)
        if day not in days_seen and (today - day).days < keep_days:
            days_seen.add(day)
            keep.add(name)
        if month not in months_seen and (today.year - at.year) * 12 + today.month - at.month < keep_months:
            months_seen.add(month)
            keep.add(name)
    return [name for name, _ in newest_first if name not in keep]
