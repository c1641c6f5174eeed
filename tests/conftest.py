"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, settings, a service, users."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.config import ROOT, Settings, load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from tests.pg import Cluster, start_cluster

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    cluster = start_cluster()
    yield cluster
    cluster.stop()


def _admin(pg: Cluster) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_template(pg: Cluster) -> str:
    with _admin(pg) as conn:
        conn.execute("CREATE DATABASE dingdian_template")
    engine = make_engine(pg.url("dingdian_template"))
    upgrade(engine)
    engine.dispose()
    return "dingdian_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def fresh_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A migrated, empty database for one test: a copy of the migrated template."""
    if backend == "sqlite":
        path = tmp_path / "dingdian.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    pg: Cluster = request.getfixturevalue("pg")
    template = request.getfixturevalue("pg_template")
    name = "t_" + uuid.uuid4().hex[:12]
    with _admin(pg) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")

    def _drop() -> None:
        with _admin(pg) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    request.addfinalizer(_drop)
    return pg.url(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    return fresh_database(request, backend, tmp_path)


# Tests create many accounts: a cheap argon2 cost keeps the suite fast (the hash records its parameters;
# test_pins_are_hashed_with_argon2 checks the configured cost is the one used).
TEST_PIN_COST = {"pin_hash_memory_kib": 1024, "pin_hash_time_cost": 1}


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sandbox insurance centre, one per test run, served on a thread."""
    from server.insurance.sandbox.serve import start_in_thread

    base, stop = start_in_thread(tmp_path_factory.mktemp("sandbox") / "centre.db")
    yield base
    stop()


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[Any]:
    """Its admin client; every test starts from the centre's demo persons and balances."""
    from server.insurance.sandbox.client import SandboxAdmin

    admin = SandboxAdmin(sandbox_url)
    admin.reset()
    yield admin
    admin.close()


def make_settings(db_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("service", TEST_PIN_COST)
    return load_settings(ROOT / "config.toml", database={"url": db_url}, **overrides)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.database.url)
    yield eng
    eng.dispose()


@pytest.fixture
def ctx(engine: Engine, settings: Settings) -> Ctx:
    return Ctx(bootstrap_store(engine, settings), settings)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from server.app import create_app

    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.dingdian.engine.dispose()


ROLE_PINS = {"cashier": "1111", "pharmacist": "2222", "insurance_admin": "3333", "manager": "4444",
             "sysadmin": "9999"}


def add_role_users(engine: Engine, ctx: Ctx) -> None:
    from server.db.uow import write_session
    from server.roles import Role
    from server.services.store.users import add_user

    with write_session(engine) as s:
        for role, pin in ROLE_PINS.items():
            add_user(s, ctx, f"u_{role}", f"测试{role}", pin, {Role(role)})


def login(client: TestClient, username: str, pin: str) -> dict[str, str]:
    r = client.post("/auth/login", json={"username": username, "pin": pin})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def headers(client: TestClient, engine: Engine, ctx: Ctx) -> dict[str, dict[str, str]]:
    """A logged-in user per post: headers['manager'] etc."""
    add_role_users(engine, ctx)
    return {role: login(client, f"u_{role}", pin) for role, pin in ROLE_PINS.items()}


# --- a store ready to sell ---------------------------------------------------------------------------

BARCODE_AMOX = "6901234567892"  # 阿莫西林胶囊, Rx, 24 caps a box, sold split too
BARCODE_VITC = "6902345678903"  # 维生素C片, OTC
BARCODE_MASK = "6903456789014"  # 医用口罩, device; one expired batch, one good
BARCODE_ICE = "6904567890125"  # 冰糖雪梨膏, food; its only batch quality-stopped


def seed_shop(engine: Engine, ctx: Ctx) -> dict[str, int]:
    """Zones, four items with batches (expired, stopped, good), a registered till T01. Returns item ids."""
    from datetime import timedelta

    from catalog.classes import GspClass, Storage, ZonePurpose
    from server.db.uow import write_session
    from server.services.catalog import items as catalog_service
    from server.services.stock import batches as stock
    from server.services.store.profile import register_till

    today = ctx.today
    ids: dict[str, int] = {}
    with write_session(engine) as s:
        register_till(s, ctx, ctx.settings.till.code, "1号台", "")
        register_till(s, ctx, "T02", "2号台", "")
        for code, admits, route in (("Z-RX", {GspClass.RX}, "internal"), ("Z-OTC", {GspClass.OTC_A}, "internal"),
                                    ("Z-DEV", {GspClass.DEVICE}, "none"), ("Z-FOOD", {GspClass.FOOD}, "none")):
            catalog_service.create_zone(s, ctx, code, code, ZonePurpose.DISPLAY, admits, route, Storage.NORMAL, False)
        specs = [
            ("amox", {"code": "YP0001", "name": "阿莫西林胶囊", "spec": "0.25g*24粒", "approval_no": "国药准字H1",
                      "gsp_class": "rx", "route": "internal", "price_fen": 1250, "split_unit": "粒", "split_ratio": 24,
                      "split_price_fen": 60}, BARCODE_AMOX, "Z-RX"),
            ("vitc", {"code": "YP0002", "name": "维生素C片", "spec": "0.1g*100片", "approval_no": "国药准字H2",
                      "gsp_class": "otc_a", "route": "internal", "price_fen": 350}, BARCODE_VITC, "Z-OTC"),
            ("mask", {"code": "FY0001", "name": "医用外科口罩", "spec": "10只", "gsp_class": "device",
                      "price_fen": 990}, BARCODE_MASK, "Z-DEV"),
            ("ice", {"code": "FY0002", "name": "冰糖雪梨膏", "spec": "200g", "gsp_class": "food",
                     "price_fen": 1800}, BARCODE_ICE, "Z-FOOD"),
        ]
        for key, values, barcode, zone in specs:
            ids[key] = catalog_service.create_item(s, ctx, values, [barcode], zone).id  # type: ignore[assignment]
        mk = today - timedelta(days=400)
        stock.add_opening_batch(s, ctx, ids["amox"], None, "B-AMOX-1", "L1", mk, today + timedelta(days=300), 800, 10 * 24)
        stock.add_opening_batch(s, ctx, ids["amox"], None, "B-AMOX-2", "L2", mk, today + timedelta(days=30), 800, 2 * 24)
        stock.add_opening_batch(s, ctx, ids["vitc"], None, "B-VITC-1", "L3", mk, today + timedelta(days=500), 200, 50)
        stock.add_opening_batch(s, ctx, ids["mask"], None, "B-MASK-OLD", "L4", mk, today - timedelta(days=1), 500, 5)
        stock.add_opening_batch(s, ctx, ids["mask"], None, "B-MASK-NEW", "L5", mk, today + timedelta(days=700), 500, 3)
        ice = stock.add_opening_batch(s, ctx, ids["ice"], None, "B-ICE-1", "L6", mk, today + timedelta(days=200), 900, 4)
        stock.set_batch_stop(s, ctx, ice.id, True, "抽检不合格待复检")  # type: ignore[arg-type]
    return ids


def till_login(client: TestClient, username: str, pin: str, till_code: str = "T01") -> dict[str, str]:
    r = client.post("/auth/login", json={"username": username, "pin": pin, "till_code": till_code})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def shop(client: TestClient, engine: Engine, ctx: Ctx) -> dict[str, Any]:
    """A store ready to sell: items and stock, users per post, the cashier and pharmacist logged in at T01
    with its shift open and the pharmacist on duty."""
    items = seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    cashier = till_login(client, "u_cashier", ROLE_PINS["cashier"])
    pharmacist = till_login(client, "u_pharmacist", ROLE_PINS["pharmacist"])
    manager = login(client, "u_manager", ROLE_PINS["manager"])
    shift = client.post("/shifts", json={"float_fen": 20000}, headers=cashier)
    assert shift.status_code == 201, shift.text
    return {"client": client, "items": items, "cashier": cashier, "pharmacist": pharmacist, "manager": manager,
            "shift_id": shift.json()["id"]}


def qualify_pharmacist(engine: Engine, ctx: Ctx, username: str = "u_pharmacist") -> None:
    """A staff record that passes STAFF-01 today: qualified, registered at this store, contract in term."""
    from datetime import timedelta

    from server.db.uow import write_session
    from server.services.store.users import find_user, set_staff_profile, staff_profile

    with write_session(engine) as s:
        user = find_user(s, ctx, username)
        if staff_profile(s, user.id) is None:  # type: ignore[arg-type]
            set_staff_profile(s, ctx, user.id, {  # type: ignore[arg-type]
                "qualification": "licensed_pharmacist", "qualification_no": "ZY-0001",
                "registered_store_code": ctx.settings.store.fixmedins_code,
                "contract_start": ctx.today - timedelta(days=100), "contract_end": ctx.today + timedelta(days=900)})


def pharmacist_on_duty(shop: dict[str, Any]) -> None:
    """The shop's pharmacist qualified and on duty in the shop's shift (RX-10)."""
    state = shop["client"].app.state.dingdian
    qualify_pharmacist(state.engine, Ctx(state.store_id, state.settings))
    on = shop["client"].post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    assert on.status_code in (200, 201), on.text


def prescribe(shop: dict[str, Any], sale_id: str, lines: list[tuple[int, int, bool]], approve: bool = True,
              **fields: Any) -> dict[str, Any]:
    """A paper prescription for the shop's sale (item id, qty, split per line), reviewed by the shop's
    pharmacist on duty and tied to the sale — what RX-01 asks before any Rx line is paid."""
    from datetime import datetime as _datetime
    from zoneinfo import ZoneInfo

    c = shop["client"]
    today = _datetime.now(ZoneInfo("Asia/Shanghai")).date()
    body = {"rx_no": f"RX-{uuid.uuid4().hex[:10]}", "institution_code": "H44030000001", "institution_name": "示范医院",
            "doctor_name": "李医生", "issued_on": fields.pop("issued_on", today.isoformat()),
            "patient_name": "张三", "patient_sex": "男", "patient_age": 40, "diagnosis": "急性支气管炎",
            "doctor_signed": True,
            "lines": [{"item_id": item_id, "qty": qty, "split": split, "days": 3, "dosage": "0.5g", "frequency": "tid",
                       "route": "口服", "dosage_form": "胶囊"} for item_id, qty, split in lines]} | fields
    rx = c.post("/prescriptions", json=body, headers=shop["cashier"])
    assert rx.status_code == 201, rx.text
    if approve:
        pharmacist_on_duty(shop)
        ok = c.post(f"/prescriptions/{rx.json()['id']}/review", json={"verdict": "approved"}, headers=shop["pharmacist"])
        assert ok.status_code == 200, ok.text
    tied = c.post(f"/sales/{sale_id}/prescription", json={"prescription_id": rx.json()["id"]}, headers=shop["cashier"])
    assert tied.status_code == 200, tied.text
    return c.get(f"/prescriptions/{rx.json()['id']}", headers=shop["cashier"]).json()
