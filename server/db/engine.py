"""Making an engine: SQLite's configured by server.db.sqlite; PostgreSQL with its defaults (synchronous_commit
on), a pool sized for a chain's tills and pre-ping."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine

from server.db.sqlite import configure_sqlite


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)
