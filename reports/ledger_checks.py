"""The inspector's checks on a 进销存 (placeholder, filled next)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def run(conn: Connection, report: Any) -> Any:
    return None
