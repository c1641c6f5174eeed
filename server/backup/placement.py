"""Where a backup may be written: never on the device that holds the database (a disk that dies takes both)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from server.errors import AppError

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def _refused(directory: Path, why_zh: str, why_en: str, **details: object) -> AppError:
    return AppError(422, "SEC-05", f"备份目录 {directory} 不可用：{why_zh}", f"backup directory {directory}: {why_en}",
                    {"directory": str(directory), **details})


def database_directory(engine: Engine) -> Path | None:
    """The directory whose device holds the data: the SQLite file's, or a local PostgreSQL's data directory.
    None for a PostgreSQL on another host (a backup here is on another machine by definition)."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").resolve().parent
    if (url.host or "") not in _LOCAL_HOSTS and not str(url.host or "").startswith("/"):
        return None
    with engine.connect() as conn:
        try:
            found = conn.execute(text("SELECT setting FROM pg_settings WHERE name = 'data_directory'")).scalar()
        except DBAPIError:  # an account without the right to read it: said below, refused
            found = None
    if not found:
        raise AppError(422, "SEC-05", "无法确认本机 PostgreSQL 数据目录所在磁盘（需 pg_read_all_settings 权限）",
                       "cannot tell which disk holds the local PostgreSQL's data (grant pg_read_all_settings)", {})
    return Path(str(found))


def check_placement(directory: Path, engine: Engine) -> Path:
    """The directory, made and resolved, once it is known to be writable and on another device than the data."""
    directory = directory.expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refused(directory, f"无法创建（{exc.strerror}）", f"cannot be created ({exc.strerror})") from exc
    directory = directory.resolve()
    if not os.access(directory, os.W_OK):
        raise _refused(directory, "没有写权限", "is not writable")
    data = database_directory(engine)
    if data is not None and os.stat(data).st_dev == os.stat(directory).st_dev:
        raise _refused(directory, f"与数据库（{data}）在同一块磁盘上，磁盘损坏时备份将一同丢失",
                       f"is on the same device as the database ({data}): a failed disk would take both",
                       database=str(data))
    return directory
