"""The uploads worker: sends the outbox (3501–3507) to the insurance centre in the background (ST-06).

One thread per store, started by the service. Each step is server.services.insurance.uploads.send_due: rows
claimed in a durable commit before anything leaves, sent outside any transaction, answered one by one. At start
the rows a stop cut off mid-send go out again (same msgid and payload; the centre deduplicates). A step that
sends nothing (nothing due, no sign-in, a failure waiting its turn) sleeps `poll_s`; any error of the step is
logged and the worker goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from server.config import Settings
from server.db.types import utcnow
from server.services.context import Ctx
from server.services.insurance import uploads

log = logging.getLogger("dingdian.uploads")


class UploadWorker:
    name = "uploads"

    def __init__(self, engine: Engine, settings: Settings, store_id: int, centre: uploads.Centre,
                 poll_s: float = 2.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.settings = settings
        self.store_id = store_id
        self.centre = centre
        self.poll_s = poll_s
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = uploads.Sent()

    def _ctx(self) -> Ctx:
        return Ctx(self.store_id, self.settings, now=self.clock())

    def start(self) -> None:
        cut_off = uploads.recover(self.engine, self._ctx())
        if cut_off:
            log.warning("uploads: %d row(s) cut off mid-send by a stop: sent again", cut_off)
        self._thread = threading.Thread(target=self._run, name="uploads-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                step = uploads.send_due(self.engine, self._ctx(), self.centre, clock=self.clock,
                                        pause_s=self.settings.insurance.upload_pause_ms / 1000)
            except Exception:  # the database or the centre away for a moment must not end the worker
                log.exception("uploads: a step failed")
                step = uploads.Sent()
            self.sent.accepted += step.accepted
            self.sent.rejected += step.rejected
            self.sent.failed += step.failed
            if step.total == 0 or step.failed == step.total:
                self._wake.wait(self.poll_s)
                self._wake.clear()


def start_uploads(engine: Engine, settings: Settings, store_id: int, centre: uploads.Centre) -> UploadWorker | None:
    """The service's uploads worker (None when `[insurance] uploads_worker` is off)."""
    if not settings.insurance.uploads_worker:
        return None
    worker = UploadWorker(engine, settings, store_id, centre)
    worker.start()
    return worker
