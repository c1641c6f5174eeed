"""A store ready to sell, for the benchmarks: tills, cashiers, OTC items with deep stock (no tests/ imports).

`build_store(directory, tills)` migrates a fresh SQLite file, bootstraps the store from the repository's
config.toml, and goes through the ordinary audited use cases (zones, items, opening batches, tills, users),
so the service sees the same kind of data a real store has. It writes a config.toml pointing at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench._common import write_config
from catalog.classes import GspClass, Storage, ZonePurpose
from catalog.codes import gtin_check_digit
from server.audit import Actor
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.models.base import id_of
from server.db.uow import Unit, core_unit
from server.roles import Role
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.stock import batches as stock
from server.services.store import shifts
from server.services.store.profile import bootstrap_store, register_till
from server.services.store.users import add_user, set_staff_profile

STOCK_PER_ITEM = 100_000
CASHIER_PIN = "8642"
# (code, name, spec, class, price in fen): OTC drugs and devices, sold whole, no pharmacist needed.
ITEMS = [
    ("YP9001", "维生素C片", "0.1g*100片", "otc_a", 350),
    ("YP9002", "板蓝根颗粒", "10g*20袋", "otc_a", 1580),
    ("YP9003", "复方甘草片", "100片", "otc_a", 620),
    ("YP9004", "布洛芬缓释胶囊", "0.3g*20粒", "otc_a", 1890),
    ("YP9005", "藿香正气水", "10ml*10支", "otc_a", 1200),
    ("FY9001", "医用外科口罩", "10只", "device", 990),
    ("FY9002", "医用棉签", "100支", "device", 450),
    ("FY9003", "创可贴", "100片", "device", 1100),
]


def barcode_for(n: int) -> str:
    body = f"690{n:09d}"
    return body + str(gtin_check_digit(body))


@dataclass
class BenchStore:
    directory: Path
    db_path: Path
    db_url: str
    config: Path
    tills: list[str]
    cashiers: list[str]  # cashier i logs in at tills[i]
    pin: str
    barcodes: list[str]
    price_fen: dict[str, int] = field(default_factory=dict)  # by barcode


def _pharmacist_on_duty(u: Unit, ctx: Ctx) -> None:
    """A qualified pharmacist on duty at a till of their own (RX-10: the store sells 甲类非处方药 only while one is), so
    the tills' scans of the OTC drugs pay for the presence check as a store's do."""
    pharmacist = add_user(u, ctx, "bench_ph", "药师", CASHIER_PIN, {Role.PHARMACIST})
    set_staff_profile(u, ctx, id_of(pharmacist), {
        "qualification": "licensed_pharmacist", "qualification_no": "ZY-BENCH", "registered_store_code":
        ctx.settings.store.fixmedins_code, "qualification_expiry": ctx.today + timedelta(days=1000),
        "contract_start": ctx.today - timedelta(days=100), "contract_end": ctx.today + timedelta(days=1000)})
    register_till(u, ctx, "T99", "药师台", "")
    as_pharmacist = ctx.acting(Actor(id_of(pharmacist), "bench_ph"))
    shift = shifts.open_shift(u, as_pharmacist, "T99", 0)
    shifts.duty_on(u, as_pharmacist, id_of(shift), frozenset({Role.PHARMACIST}))


def build_store(directory: Path, tills: int = 4, name: str = "dingdian.db") -> BenchStore:
    db_path = directory / name
    url = f"sqlite:///{db_path}"
    config = write_config(directory, url)
    settings = load_settings(config)
    engine = make_engine(url)
    try:
        upgrade(engine)
        ctx = Ctx(bootstrap_store(engine, settings), settings)
        today = ctx.today
        till_codes = [f"T{i:02d}" for i in range(1, tills + 1)]
        cashiers = [f"bench_c{i:02d}" for i in range(1, tills + 1)]
        barcodes: list[str] = []
        prices: dict[str, int] = {}
        with core_unit(engine) as u:
            for code in till_codes:
                register_till(u, ctx, code, f"{code} 收款台", "")
            for username in cashiers:
                add_user(u, ctx, username, f"收银员{username[-2:]}", CASHIER_PIN, {Role.CASHIER})
            catalog_service.create_zone(u, ctx, "Z-OTC", "非处方药区", ZonePurpose.DISPLAY, {GspClass.OTC_A},
                                        "internal", Storage.NORMAL, False)
            catalog_service.create_zone(u, ctx, "Z-DEV", "器械区", ZonePurpose.DISPLAY, {GspClass.DEVICE}, "none",
                                        Storage.NORMAL, False)
            made = today - timedelta(days=200)
            for n, (code, item_name, spec, gsp, price) in enumerate(ITEMS, start=1):
                values = {"code": code, "name": item_name, "spec": spec, "gsp_class": gsp, "price_fen": price}
                if gsp == "otc_a":
                    values |= {"approval_no": f"国药准字H{n:08d}", "route": "internal"}
                barcode = barcode_for(n)
                item = catalog_service.create_item(u, ctx, values, [barcode], "Z-OTC" if gsp == "otc_a" else "Z-DEV")
                stock.add_opening_batch(u, ctx, id_of(item), None, f"B-{code}", f"L{n:04d}", made,
                                        today + timedelta(days=700), price // 2, STOCK_PER_ITEM)
                barcodes.append(barcode)
                prices[barcode] = price
            _pharmacist_on_duty(u, ctx)
    finally:
        engine.dispose()
    return BenchStore(directory, db_path, url, config, till_codes, cashiers, CASHIER_PIN, barcodes, prices)
