"""The FastAPI application: routers, error handlers, and the state the service holds."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from server.api import (
    audit,
    auth,
    card,
    catalog,
    devices,
    events,
    health,
    prescriptions,
    printing,
    receiving,
    reports,
    selling,
    stock,
    store,
    till,
    users,
)
from server.api import care as care_api
from server.api import checklist as checklist_api
from server.api import documents as documents_api
from server.api import eprx as eprx_api  # electronic 外配处方 from the platform (#23)
from server.api import insurance as insurance_api
from server.api import labels as labels_api
from server.api import money as money_api  # receivables and the reserve, reports handed in (#20)
from server.api import period as period_api
from server.api import reconciliation as reconciliation_api
from server.api import statements as statements_api
from server.api import stock_in as stock_in_api
from server.api import uploads as uploads_api
from server.api.errors import ErrorBody, install_handlers
from server.api.lane import TillLane
from server.config import Settings, get_settings
from server.db.engine import make_engine
from server.db.revisions import require_head
from server.devices import DeviceManager
from server.insurance.factory import make_gateway
from server.services.catalog.search import index_of
from server.services.store.profile import bootstrap_store
from server.services.store.starts import record_start
from server.state import AppState
from server.workers.backup import BackupWorker
from server.workers.recovery import recover_settlements
from server.workers.uploads import start_uploads

_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorBody} for status in (401, 403, 404, 409, 413, 422, 424)}

# Starlette matches routes in order, one by one: the till's hot paths (scan, pay) come first, after /health.
_ROUTERS: tuple[APIRouter, ...] = tuple(module.router for module in (
    health, selling, auth, store, users, catalog, stock, receiving, prescriptions, card, till, events, audit, devices,
    printing, reports, insurance_api, care_api, checklist_api, reconciliation_api, documents_api, period_api,
    money_api, statements_api, stock_in_api, uploads_api, eprx_api, labels_api))


@functools.cache
def _route_table() -> tuple[BaseRoute, ...]:
    """The routers as included, once per process and shared by every app it builds.

    FastAPI builds an included router's routes (their parameter and response models) on the first request that
    reaches them, ~0.1 s for selling's, and keeps them on the included router. A starting service's first
    question, /health (a supervisor, `dingdian demo`, the till), does not wait for them; a scan pays one more
    regex when the hot lane (TillLane) has not answered it already. Shared, a process that builds many apps — the
    test suite builds one per test — builds them once rather than ~0.13 s of CPU per app. Nothing here is the
    app's own: the service takes no dependency overrides (the one thing FastAPI binds to the including app)."""
    scratch = FastAPI(responses=_ERRORS)
    own = len(scratch.router.routes)  # its /openapi.json and /docs: each app has its own
    for router in _ROUTERS:
        scratch.include_router(router)
    return tuple(scratch.router.routes[own:])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database.url)
    require_head(engine)
    store_id = bootstrap_store(engine, settings)
    record_start(engine, settings, store_id)  # SEC-04: the settings it starts with, audited

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
        backups = BackupWorker(engine, settings, store_id)
        backups.start()
        uploader = start_uploads(engine, settings, store_id, app.state.insurance)  # the outbox's sender (ST-06)
        try:
            yield
        finally:
            if uploader is not None:
                uploader.stop()
            backups.stop()
            state.devices.stop()
            app.state.insurance.close()

    app = FastAPI(title="丁点药房收银服务 Dingdian POS service", version="0.1.0", responses=_ERRORS,
                  lifespan=lifespan)
    app.state.dingdian = AppState(settings, engine, store_id)
    app.state.insurance = make_gateway(settings, engine, store_id)  # the centre link (server.api.insurance.gateway_of)
    install_handlers(app)
    app.router.routes.extend(_route_table())
    period_api.install_handler(app)
    app.add_middleware(TillLane, routes=app.routes)  # the routes marked @hot on their happy path; all else as routed
    return app
