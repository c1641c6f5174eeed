"""The till's tests run against a real service on a temporary database: seeded, then served in-process
(tests/pos/live.py) so each test can also publish into the service's event hub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from server.config import Settings
from server.db.models.base import id_of
from server.db.uow import core_unit
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.stock import batches as stock
from tests.conftest import add_role_users, seed_shop
from tests.pos.helpers import BARCODE_BULK
from tests.pos.live import LiveService


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the till is a client: one backend is enough here


def seed_till_shop(engine: Engine, ctx: Ctx) -> None:
    """The conftest shop plus an OTC item with stock enough for a scanner burst."""
    seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    today = ctx.today
    with core_unit(engine) as u:
        values = {"code": "YP0099", "name": "复方甘草片", "spec": "100片", "approval_no": "国药准字H9",
                  "gsp_class": "otc_b", "route": "internal", "price_fen": 120}
        item = catalog_service.create_item(u, ctx, values, [BARCODE_BULK], "Z-OTC")
        u.flush()
        stock.add_opening_batch(u, ctx, id_of(item), None, "B-BULK-1", "L9", today - timedelta(days=100),
                                today + timedelta(days=400), 50, 500)


@pytest.fixture
def live(engine: Engine, ctx: Ctx, settings: Settings) -> Iterator[LiveService]:
    seed_till_shop(engine, ctx)
    service = LiveService(settings).start()
    yield service
    service.stop()


@pytest.fixture
def service(live: LiveService) -> str:
    return live.base
