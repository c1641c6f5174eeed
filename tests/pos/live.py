"""The real service in this process: uvicorn in a thread on a free port, over the test's database.

The till talks to it over HTTP exactly as to `dingdian serve`; the test can reach the running app's state —
`hub` is the event hub a device driver publishes into. Starting in-process costs a fraction of a subprocess
(the imports are done), which keeps the till's suite short. `stop()` then `start()` restarts it on the
same port, as a restarted service would come back.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from server.app import create_app
from server.config import Settings
from server.devices import DeviceManager
from server.events import EventHub
from tests.service import free_port


class LiveService:
    def __init__(self, settings: Settings, port: int | None = None, devices: bool = False) -> None:
        self.settings = settings
        self.devices = devices  # run the device manager too (the simulated printer, its print workers)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def hub(self) -> EventHub:
        return self.app.state.dingdian.events

    def start(self, timeout: float = 20) -> LiveService:
        self.app = create_app(self.settings)
        if self.devices:  # what the lifespan (off here) would start
            state = self.app.state.dingdian
            state.devices = DeviceManager(self.settings, state.events, state.engine, state.store_id)
            state.devices.start()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name=f"service-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True  # an open event stream would otherwise hold the shutdown
        self._thread.join(timeout=15)
        if self.app.state.dingdian.devices is not None:
            self.app.state.dingdian.devices.stop()
        self.app.state.dingdian.engine.dispose()
        self._server = self._thread = None
