"""Every start of the service records the configuration it runs with (SEC-04: changing the settings is a
maintenance change, logged with who, when and what).

The settings in force — config.toml and the DINGDIAN_* environment overrides, as pydantic-settings merged
them — are flattened to `section.key` values (a secret by its digest only) and compared with the last
start's: the row keeps their digest, the config file's digest, the overrides' names and the keys that
changed, and is audited as it is written. A change made while the service was stopped is named at the next
start, attributed to whoever started it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from server import audit
from server.config import Settings
from server.db.models import ServiceStart
from server.db.types import utcnow
from server.db.uow import core_unit, orm

_SECRET = re.compile(r"secret|password|passwd|token|private", re.IGNORECASE)


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def settings_values(settings: Settings) -> dict[str, str]:
    """The settings in force as `section.key` -> value (JSON text); a secret's value is its digest, never itself."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
            return
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        out[prefix] = "sha256:" + _digest(text.encode("utf-8")) if _SECRET.search(prefix) else text

    walk("", settings.model_dump(mode="json", exclude={"source_file"}))
    return out


def who_started() -> str:
    """The OS user who started the service. For now: the command line's named-person login (issue #17,
    "the command line acts as a named person who authenticates") will name the person instead."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return f"os:uid {os.getuid()}"


def record_start(engine: Engine, settings: Settings, store_id: int, started_by: str | None = None) -> ServiceStart:
    """Record this start's configuration (audited): its digest and the keys changed since the last start's."""
    values = settings_values(settings)
    source = Path(settings.source_file) if settings.source_file else None
    file_digest = _digest(source.read_bytes()) if source is not None and source.is_file() else ""
    overrides = sorted(k for k in os.environ if k.upper().startswith("DINGDIAN_"))
    by = started_by or who_started()
    with core_unit(engine) as u:
        s = orm(u)
        last = s.exec(select(ServiceStart).where(ServiceStart.store_id == store_id)
                      .order_by(col(ServiceStart.id).desc()).limit(1)).first()
        changed = [] if last is None else sorted(k for k in values.keys() | last.settings.keys()
                                                 if values.get(k) != last.settings.get(k))
        row = ServiceStart(store_id=store_id, at=utcnow(), started_by=by,
                           digest=_digest(json.dumps(values, sort_keys=True, ensure_ascii=False).encode("utf-8")),
                           source_file=str(source or "")[:300], file_digest=file_digest, overrides=overrides,
                           settings=values, changed=changed)
        s.add(row)
        note = ("首次记录的启动 / first recorded start" if last is None else
                f"配置变更 / settings changed: {', '.join(changed)}" if changed else "配置未变 / settings unchanged")
        audit.record_row(u, store_id, audit.Actor(None, by), "config.start", row, note=note[:500])
        return row
