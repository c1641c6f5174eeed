"""A store for the stock benches: migrated SQLite, one OTC zone, items sold by the box or by the tablet, and a
pharmacist and a manager (two persons: an inspector or counter, and the person in charge who approves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench._common import write_config
from catalog.classes import GspClass, Storage, ZonePurpose
from server.audit import Actor
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.models.base import id_of
from server.db.uow import Unit, core_unit
from server.roles import Role
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from server.services.store.users import add_user


def otc_store(directory: Path, name: str, n_items: int, pharmacist_title: str) -> tuple[Any, Ctx, Ctx, Ctx, list[int]]:
    """(engine, the store's ctx, acting as the pharmacist, acting as the manager, the items' ids)."""
    url = f"sqlite:///{directory / f'{name}.db'}"
    settings = load_settings(write_config(directory, url))
    engine = make_engine(url)
    upgrade(engine)
    ctx = Ctx(bootstrap_store(engine, settings), settings)
    with core_unit(engine) as u:
        catalog_service.create_zone(u, ctx, "Z-OTC", "非处方药区", ZonePurpose.DISPLAY, {GspClass.OTC_A}, "internal",
                                    Storage.NORMAL, False)
        ph = add_user(u, ctx, "bench_ph", pharmacist_title, "8642", {Role.PHARMACIST})
        mg = add_user(u, ctx, "bench_mg", "店长", "8642", {Role.MANAGER})
        items = [_item(u, ctx, n) for n in range(1, n_items + 1)]
    return engine, ctx, ctx.acting(Actor(id_of(ph), "bench_ph")), ctx.acting(Actor(id_of(mg), "bench_mg")), items


def _item(u: Unit, ctx: Ctx, n: int) -> int:
    return id_of(catalog_service.create_item(u, ctx, {
        "code": f"YP{n:05d}", "name": f"测试药品{n}", "spec": "0.1g*24片", "gsp_class": "otc_a", "price_fen": 500,
        "approval_no": f"国药准字H{n:08d}", "route": "internal", "split_unit": "片", "split_ratio": 24,
        "split_price_fen": 30}, [], "Z-OTC"))
