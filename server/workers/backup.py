"""The service's own daily backup (SEC-05): at `[backup] daily_at`, store time, while the store may be selling.

A store that prefers cron or a systemd timer leaves `[backup] dir` empty here and runs `dingdian backup` (README).
A failed run is recorded (the checklist shows it) and tried again at the next day's time; the service goes on.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from server.audit import Actor
from server.backup.runs import backup_now
from server.config import Settings
from server.db.types import utcnow
from server.errors import AppError
from server.services.context import Ctx

log = logging.getLogger("dingdian.backup")
ACTOR = Actor(None, "service:backup")


def next_run(now: datetime, daily_at: str, tz: ZoneInfo) -> datetime:
    """The next instant (UTC-aware, after `now`) the store's clock shows `daily_at` (HH:MM)."""
    hour, minute = (int(part) for part in daily_at.split(":"))
    local = now.astimezone(tz)
    at = datetime.combine(local.date(), time(hour, minute), tzinfo=tz)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=tz)
    return at


class BackupWorker:
    name = "backup"

    def __init__(self, engine: Engine, settings: Settings, store_id: int) -> None:
        self.engine, self.settings, self.store_id = engine, settings, store_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        ctx = Ctx(self.store_id, self.settings, ACTOR, utcnow())
        try:
            done = backup_now(self.engine, ctx, "service")
            log.info("daily backup written: %s", done.taken.path)
        except AppError as exc:
            log.error("daily backup failed: [%s] %s / %s", exc.code, exc.message_zh, exc.message_en)

    def _loop(self) -> None:
        tz = self.settings.store.tz
        while not self._stop.is_set():
            wait = (next_run(utcnow(), self.settings.backup.daily_at, tz) - utcnow()).total_seconds()
            if self._stop.wait(max(wait, 1.0)):
                return
            self.run_once()

    def start(self) -> None:
        if not self.settings.backup.dir:
            log.warning("no [backup] dir configured: the service takes no daily backup (SEC-05)")
            return
        self._thread = threading.Thread(target=self._loop, name="daily-backup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
