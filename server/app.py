"""The FastAPI application: routers, error handlers, and the state the service holds."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from server.api.closed_period import install_handler as install_closed_period
from server.api.errors import install_handlers
from server.api.lane import TillLane
from server.api.routers import ERROR_RESPONSES, LATER_ROUTERS, SALE_ROUTERS, LaterRoutes, route_table
from server.config import Settings, get_settings
from server.db.engine import make_engine
from server.db.revisions import require_head
from server.devices import DeviceManager
from server.insurance.factory import make_gateway
from server.services.catalog.search import index_of
from server.services.store.profile import bootstrap_store
from server.services.store.starts import record_start
from server.state import AppState
from server.workers.recovery import recover_settlements


class _BackgroundWorkers:
    """The daily backup and the outbox's sender (ST-06): started once the service is up (after the later routes when
    those are loaded later: they share their modules), stopped with the service."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._stops: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        from server.workers.backup import BackupWorker  # the back office's: imported once the service answers
        from server.workers.uploads import start_uploads

        state: AppState = self._app.state.dingdian
        with self._lock:
            if self._stopped:
                return
            backups = BackupWorker(state.engine, state.settings, state.store_id)
            backups.start()
            self._stops.append(backups.stop)
            uploader = start_uploads(state.engine, state.settings, state.store_id, self._app.state.insurance)
            if uploader is not None:
                self._stops.append(uploader.stop)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for stop in reversed(self._stops):
                stop()


def create_app(settings: Settings | None = None, *, routes_later: bool = False) -> FastAPI:
    """The service. `routes_later` (`dingdian serve`): answer as soon as the routes a sale needs are in, and load
    the rest on a thread right after (server.api.routers)."""
    settings = settings or get_settings()
    engine = make_engine(settings.database.url)
    require_head(engine)
    store_id = bootstrap_store(engine, settings)
    record_start(engine, settings, store_id)  # SEC-04: the settings it starts with, audited
    later: LaterRoutes | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.dingdian
        state.devices = DeviceManager(settings, state.events, engine, store_id)
        state.devices.start()  # the till's scanner, printer queue and card reader run beside the service
        # A settlement left as an intent or uncertain (a crash, a lost answer) is resolved before its
        # sale can be touched again: 2601 by msgid, in the background so a slow centre does not delay start-up.
        threading.Thread(target=recover_settlements, args=(engine, settings, store_id, app.state.insurance),
                         name="settlement-recovery", daemon=True).start()
        # The catalog's index, loaded off the request path once the service is up (not while it starts, competing
        # for the interpreter).
        index_of(engine, store_id).warm_up()
        workers = _BackgroundWorkers(app)
        if later is None:
            workers.start()
        else:
            loading = later

            def load_then_start() -> None:
                loading.load()
                workers.start()
            threading.Thread(target=load_then_start, name="later-routes", daemon=True).start()
        try:
            yield
        finally:
            workers.stop()
            state.devices.stop()
            app.state.insurance.close()

    app = FastAPI(title="丁点药房收银服务 Dingdian POS service", version="0.1.0", responses=ERROR_RESPONSES,
                  lifespan=lifespan)
    app.state.dingdian = AppState(settings, engine, store_id)
    app.state.insurance = make_gateway(settings, engine, store_id)  # the centre link (server.api.insurance.gateway_of)
    install_handlers(app)
    install_closed_period(app)
    app.router.routes.extend(route_table(SALE_ROUTERS))
    if routes_later:
        later = LaterRoutes(app, lambda: route_table(LATER_ROUTERS))
        app.state.later_routes = later  # /health tells whether they are in yet
        whole_document = app.openapi
        document_of_all = later

        def openapi() -> dict[str, Any]:  # the API's document describes every route, the later ones included
            document_of_all.load()
            return whole_document()
        app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to supply the document
    else:
        app.router.routes.extend(route_table(LATER_ROUTERS))
    app.add_middleware(TillLane, routes=app.routes)  # the routes marked @hot on their happy path; all else as routed
    return app
