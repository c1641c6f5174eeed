"""Shared fixtures: the one clock, a migrated database on SQLite and on PostgreSQL, settings, a service, users."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.config import ROOT, Settings, load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.models.base import id_of
from server.db.types import utcnow
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store
from tests import privacy_scan
from tests.pg import Cluster, start_cluster

if TYPE_CHECKING:  # imported where used: the fixtures that need them load the service only then
    import httpx

    from server.db.uow import Unit
    from server.insurance.gateway import InsuranceGateway
    from server.insurance.sandbox.client import SandboxAdmin
    from server.services.catalog.items import Approval
    from server.state import AppState

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# The service, the demo and the CLI that tests start as subprocesses (the venv's `dingdian` script) run this
# checkout's code: the venv's editable install points at the checkout it was made in, which a git worktree sharing
# that venv is not.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)


# --- the one clock ----------------------------------------------------------------------------------
#
# The store's business day is the store's zone's date (`[store] timezone`), never the machine's: CI runs in UTC at
# any hour, and from 16:00 to 24:00 UTC Shanghai is already on the next day. Tests read "now" and "today" from the
# `clock` fixture only (tests/test_clock.py fails on a machine-clock read).
#
# A test marked `business_day` runs once per instant below: at the real now, and frozen at the edges of a store day,
# a month and a year, and at 16:30 UTC (00:30 the next day in Shanghai). Frozen with time-machine rather than
# freezegun: time-machine patches the clock functions themselves at the C level (datetime.now, date.today,
# time.time), so everything sees the frozen instant — every thread (the in-process sandbox centre with its own
# clock, Starlette's TestClient portal, an in-process uvicorn) and every module however it imported datetime or
# time — while datetime stays the real class; freezegun swaps in a FakeDatetime subclass by rewriting the globals
# of every loaded module at each start, which is slow with this many imports and misses references it cannot find.
# time-machine leaves time.monotonic alone: timeouts and polling keep working (wait with monotonic, not time.time).
# tick=False: the instant stays put for the whole test (a 23:59:59 test does not drift into the next day).
# The instants are travelled to in UTC: time-machine also sets the process's zone to a ZoneInfo destination's,
# which would hide a bug that reads the machine's zone; a UTC destination keeps the machine where CI has it.
# Tests that start the service in a subprocess (tests/service.py, tmux) are not marked: a freeze does not reach them.
# The postgres variants of a marked test run at the real now only, unless marked business_day(postgres=True): the
# business dates are computed in Python and bound as parameters (the database's own clock is never read, which
# tests/test_clock.py checks), so the frozen runs on SQLite exercise the same code.

SHANGHAI = ZoneInfo("Asia/Shanghai")
INSTANTS: dict[str, datetime | None] = {
    "now": None,
    "2027-01-31T23:59:59+08": datetime(2027, 1, 31, 23, 59, 59, tzinfo=SHANGHAI),  # a month's last second
    "2027-02-01T00:00:01+08": datetime(2027, 2, 1, 0, 0, 1, tzinfo=SHANGHAI),  # the next month's first
    "2026-12-31T23:59:59+08": datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI),  # a year's last second
    "2027-01-01T00:00:01+08": datetime(2027, 1, 1, 0, 0, 1, tzinfo=SHANGHAI),  # the next year's first
    "2027-03-10T16:30:00Z": datetime(2027, 3, 10, 16, 30, tzinfo=UTC),  # UTC's 10 March, Shanghai's 11 March 00:30
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("business_day") is not None:
        metafunc.parametrize("business_instant", list(INSTANTS.values()), indirect=True,
                             ids=[f"at-{name}" for name in INSTANTS])


# `make test` runs the suite on two workers (pytest-xdist, --dist loadgroup). The card reader's stack is one per
# machine (one pcscd, one vpcd port): every test that uses it runs on the same worker, one after another.
MACHINE_WIDE_FIXTURES = {"pcscd": "pcscd"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The frozen instants run on SQLite only, unless the test asks for PostgreSQL too (see above); the tests of a
    machine-wide stack are grouped onto one worker."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    checked = _already_checked()
    for item in items:
        if checked(item):
            drop.append(item)
            continue
        for fixture, group in MACHINE_WIDE_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
        params = getattr(getattr(item, "callspec", None), "params", {})
        marker = item.get_closest_marker("business_day")
        on_pg_frozen = params.get("backend") == "postgres" and params.get("business_instant") is not None
        (drop if on_pg_frozen and not (marker and marker.kwargs.get("postgres")) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _already_checked() -> Callable[[pytest.Item], bool]:
    """`make test` runs `make check` first and then the suite: the suite leaves out the fast tests the check has
    just run (DINGDIAN_ALREADY_CHECKED holds the check's test arguments, the Makefile's CHECK_TESTS), so none runs
    twice inside CI's time budget. Unset, as in any other run, nothing is left out."""
    spec = os.environ.get("DINGDIAN_ALREADY_CHECKED", "").split()
    if not spec:
        return lambda item: False
    deselected = {spec[i + 1] for i, arg in enumerate(spec[:-1]) if arg == "--deselect"}
    paths = tuple(arg.rstrip("/") for i, arg in enumerate(spec)
                  if not arg.startswith("--") and (i == 0 or spec[i - 1] != "--deselect"))

    def checked(item: pytest.Item) -> bool:
        path = item.nodeid.split("::", 1)[0]
        if not any(path == p or path.startswith(p + "/") for p in paths) or item.nodeid in deselected:
            return False
        return not any(item.get_closest_marker(m) for m in ("slow", "postgres", "hardware"))
    return checked


# --- SEC-06 proven over the whole run ---------------------------------------------------------------------------
#
# At the end of each pytest process (each xdist worker) every file under its base temp, every log record it emitted
# and every document its printers received is read for a whole identity number (tests/privacy_scan.py); one found
# outside the agency's registered submissions fails the run, as an error at the teardown of the process's last test,
# naming the file (or logger, or printer) and the number masked. tests/test_privacy_scan.py shows it catching one.

@pytest.fixture(scope="session", autouse=True)
def no_whole_identity_number_written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from devices.printer.drivers import SimulatedPrinter, Slip

    keep = SimulatedPrinter.print_slip

    def print_slip(self: SimulatedPrinter, slip: Slip) -> None:
        keep(self, slip)
        privacy_scan.printed(f"simulated ({slip.kind} {slip.ref})", slip.text)

    watch = privacy_scan.LogWatch()
    logging.getLogger().addHandler(watch)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SimulatedPrinter, "print_slip", print_slip)
        yield
    logging.getLogger().removeHandler(watch)
    hits = privacy_scan.streamed() + privacy_scan.scan_tree(tmp_path_factory.getbasetemp())
    if hits:
        pytest.fail(privacy_scan.report(hits), pytrace=False)


@pytest.fixture(autouse=True)
def business_instant(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """The instant a `business_day` test is frozen at (None: the real clock). Autouse, so it is set up before
    the test's other function fixtures: the seeded data and the Ctx are made at the frozen instant too."""
    instant: datetime | None = getattr(request, "param", None)
    if instant is None:
        yield None
        return
    with time_machine.travel(instant.astimezone(UTC), tick=False):
        yield instant


@cache
def _configured_zone() -> tzinfo:
    return load_settings(ROOT / "config.toml").store.tz


class Clock:
    """The one clock a test reads: `now` (aware, UTC) and `today` (the store's business day)."""

    def __init__(self, tz: tzinfo, frozen_at: datetime | None) -> None:
        self.tz, self.frozen_at = tz, frozen_at

    @property
    def now(self) -> datetime:
        return utcnow()

    @property
    def today(self) -> date:
        # worked out here, not with the service's helper: a test checks the service's business day, not a copy of it
        return self.now.astimezone(self.tz).date()


@pytest.fixture
def clock(request: pytest.FixtureRequest, business_instant: datetime | None) -> Clock:
    """The store's zone is the test's settings' when the test has settings, else config.toml's."""
    tz = request.getfixturevalue("settings").store.tz if "settings" in request.fixturenames else _configured_zone()
    return Clock(tz, business_instant)


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
def sandbox(sandbox_url: str) -> Iterator[SandboxAdmin]:
    """Its admin client; every test starts from the centre's demo persons and balances."""
    from server.insurance.sandbox.client import SandboxAdmin

    admin = SandboxAdmin(sandbox_url)
    admin.reset()
    yield admin
    admin.close()


def sqlite_file(engine: Engine) -> str:
    """A SQLite engine's database file, for another process's own connection to it (sqlite3, a CLI command)."""
    assert engine.url.database, engine.url
    return engine.url.database


def make_settings(db_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("service", TEST_PIN_COST)
    # The uploads worker sends in the background of an in-process service: off unless a test asks for it, so a
    # test counting the centre's deliveries or the message log sees only its own.
    overrides["insurance"] = {"uploads_worker": False, **overrides.get("insurance", {})}
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


def service_state(client: TestClient) -> AppState:
    """The in-process service's state behind a TestClient: its engine, store, events, devices."""
    app = client.app
    assert isinstance(app, FastAPI)
    state: AppState = app.state.dingdian
    return state


def service_gateway(client: TestClient) -> InsuranceGateway:
    """The insurance centre's gateway the in-process service was built with."""
    app = client.app
    assert isinstance(app, FastAPI)
    gateway: InsuranceGateway = app.state.insurance
    return gateway


ROLE_PINS = {"cashier": "1111", "pharmacist": "2222", "insurance_admin": "3333", "manager": "4444",
             "sysadmin": "9999"}


def add_role_users(engine: Engine, ctx: Ctx) -> None:
    from server.db.uow import core_unit
    from server.roles import Role
    from server.services.store.users import add_user

    with core_unit(engine) as u:
        for role, pin in ROLE_PINS.items():
            add_user(u, ctx, f"u_{role}", f"测试{role}", pin, {Role(role)})


# The store's other 医保 administrator: approves a loosening 医保 mapping change (CARD-07, server.rules.controlled)
# and confirms the agency's decisions on the agreement (AGR-01).
SECOND_INSURANCE_ADMIN, SECOND_INSURANCE_PIN = "u_insurance_admin2", "3334"
CONFIRM_MAPPING = {"reason": "医保目录对照"}  # the body's reason; the other administrator confirms by grant (X-Second)


def _second_insurance_admin(u: Unit, ctx: Ctx) -> None:
    from sqlmodel import select

    from server.db.models import User
    from server.db.uow import orm
    from server.roles import Role
    from server.services.store.users import add_user

    if orm(u).exec(select(User).where(User.store_id == ctx.store_id,
                                      User.username == SECOND_INSURANCE_ADMIN)).first() is None:
        add_user(u, ctx, SECOND_INSURANCE_ADMIN, "第二医保管理员", SECOND_INSURANCE_PIN, {Role.INSURANCE_ADMIN})


def mapping_approval(engine: Engine, ctx: Ctx) -> Approval:
    """The second 医保 administrator (made once) as the approval of a mapping set in a test's fixture."""
    from server.db.uow import core_unit
    from server.services.catalog.items import Approval
    from server.services.store.users import second_person

    with core_unit(engine) as u:
        _second_insurance_admin(u, ctx)
        approver = second_person(u, ctx, SECOND_INSURANCE_ADMIN, SECOND_INSURANCE_PIN)
    assert approver is not None, "the second administrator's PIN was refused"
    return Approval(approver, CONFIRM_MAPPING["reason"])


def add_second_insurance_admin(engine: Engine, ctx: Ctx) -> dict[str, str]:
    """The store's other 医保 administrator (made once): their username and PIN, as they type them to confirm."""
    from server.db.uow import core_unit

    with core_unit(engine) as u:
        _second_insurance_admin(u, ctx)
    return {"confirm_username": SECOND_INSURANCE_ADMIN, "confirm_pin": SECOND_INSURANCE_PIN}


def second_asked(client: httpx.Client, headers: dict[str, str], username: str, pin: str, action: str,
                 subject: str = "") -> httpx.Response:
    """The second person types their username and PIN at the caller's till (POST /auth/authorise, second; the
    client is a TestClient or a running service's): the answer (a grant, or the refusal of a wrong PIN or a frozen account)."""
    return client.post("/auth/authorise", json={"username": username, "pin": pin, "action": action,
                                                "subject": subject, "second": True}, headers=headers)


def by_second_admin(client: httpx.Client, headers: dict[str, str], action: str = "agreement.write",
                    subject: str = "") -> dict[str, str]:
    """The caller's headers with the other 医保 administrator's grant (they confirm a mapping, CARD-07, or the
    agency's decision, AGR-01); add_second_insurance_admin made them."""
    return second(client, headers, SECOND_INSURANCE_ADMIN, SECOND_INSURANCE_PIN, action, subject)


def second(client: httpx.Client, headers: dict[str, str], username: str, pin: str, action: str,
           subject: str = "") -> dict[str, str]:
    """The caller's headers with a second person's grant (X-Second), asked as the till asks it."""
    r = second_asked(client, headers, username, pin, action, subject)
    assert r.status_code == 200, r.text
    return headers | {"X-Second": r.json()["grant"]}


def login(client: httpx.Client, username: str, pin: str) -> dict[str, str]:
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
    from catalog.classes import GspClass, Storage, ZonePurpose
    from server.db.uow import core_unit
    from server.services.catalog import items as catalog_service
    from server.services.stock import batches as stock
    from server.services.store.profile import register_till

    today = ctx.today
    ids: dict[str, int] = {}
    with core_unit(engine) as u:
        register_till(u, ctx, ctx.settings.till.code, "1号台", "")
        register_till(u, ctx, "T02", "2号台", "")
        for code, admits, route in (("Z-RX", {GspClass.RX}, "internal"), ("Z-OTC", {GspClass.OTC_A, GspClass.OTC_B}, "internal"),
                                    ("Z-DEV", {GspClass.DEVICE}, "none"), ("Z-FOOD", {GspClass.FOOD}, "none")):
            catalog_service.create_zone(u, ctx, code, code, ZonePurpose.DISPLAY, admits, route, Storage.NORMAL, False)
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
            ids[key] = id_of(catalog_service.create_item(u, ctx, values, [barcode], zone))
        mk = today - timedelta(days=400)
        stock.add_opening_batch(u, ctx, ids["amox"], None, "B-AMOX-1", "L1", mk, today + timedelta(days=300), 800, 10 * 24)
        stock.add_opening_batch(u, ctx, ids["amox"], None, "B-AMOX-2", "L2", mk, today + timedelta(days=30), 800, 2 * 24)
        stock.add_opening_batch(u, ctx, ids["vitc"], None, "B-VITC-1", "L3", mk, today + timedelta(days=500), 200, 50)
        stock.add_opening_batch(u, ctx, ids["mask"], None, "B-MASK-OLD", "L4", mk, today - timedelta(days=1), 500, 5)
        stock.add_opening_batch(u, ctx, ids["mask"], None, "B-MASK-NEW", "L5", mk, today + timedelta(days=700), 500, 3)
        ice = stock.add_opening_batch(u, ctx, ids["ice"], None, "B-ICE-1", "L6", mk, today + timedelta(days=200), 900, 4)
        stock.set_batch_stop(u, ctx, id_of(ice), True, "抽检不合格待复检")
        _duty_pharmacist(u, ctx)
    return ids


DUTY_PHARMACIST, DUTY_TILL = "u_duty_pharmacist", "T09"


def _duty_pharmacist(u: Unit, ctx: Ctx) -> None:
    """A qualified pharmacist on duty at a till of their own for the whole test: RX-10 lets the store sell 处方药 and
    甲类非处方药 only while one is (server.services.store.presence). The RX-10 tests take them off (nobody_on_duty).
    Their approvals count only in their own shift, so a sale's prescription still needs the shop's pharmacist."""
    from server.audit import Actor
    from server.roles import Role
    from server.services.store import shifts
    from server.services.store.profile import register_till
    from server.services.store.users import add_user, set_staff_profile

    pharmacist = add_user(u, ctx, DUTY_PHARMACIST, "在岗药师", ROLE_PINS["pharmacist"], {Role.PHARMACIST})
    set_staff_profile(u, ctx, id_of(pharmacist), {
        "qualification": "licensed_pharmacist", "qualification_no": "ZY-DUTY", "registered_store_code":
        ctx.settings.store.fixmedins_code, "qualification_expiry": ctx.today + timedelta(days=1000),
        "contract_start": ctx.today - timedelta(days=100), "contract_end": ctx.today + timedelta(days=1000)})
    register_till(u, ctx, DUTY_TILL, "药师台", "")
    on_duty = ctx.acting(Actor(id_of(pharmacist), DUTY_PHARMACIST))
    shift = shifts.open_shift(u, on_duty, DUTY_TILL, 0)
    shifts.duty_on(u, on_duty, id_of(shift), frozenset({Role.PHARMACIST}))


def nobody_on_duty(client: TestClient) -> None:
    """The seeded duty pharmacist goes off duty (the shop's own pharmacist is off unless a test puts them on)."""
    h = till_login(client, DUTY_PHARMACIST, ROLE_PINS["pharmacist"], DUTY_TILL)
    shift = client.get("/shifts/current", headers=h).json()
    off = client.delete(f"/shifts/{shift['id']}/duty", headers=h)
    assert off.status_code == 200, off.text


def till_login(client: httpx.Client, username: str, pin: str, till_code: str = "T01") -> dict[str, str]:
    r = client.post("/auth/login", json={"username": username, "pin": pin, "till_code": till_code})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


Post = Literal["cashier", "pharmacist", "manager"]  # the shop's posts logged in, each a key of its headers


class Shop(TypedDict):
    """The `shop` fixture: a store ready to sell, its client, item ids by key, and the posts' headers."""

    client: TestClient
    items: dict[str, int]
    cashier: dict[str, str]
    pharmacist: dict[str, str]
    manager: dict[str, str]
    shift_id: int
    clock: Clock


class CardShop(Shop):
    """`card_shop` (tests/insurance/test_card_sale.py): the shop ready for the 医保 card, with the 医保
    administrator's headers and the sandbox centre's admin client."""

    admin: dict[str, str]
    sandbox: SandboxAdmin


@pytest.fixture
def shop(client: TestClient, engine: Engine, ctx: Ctx, clock: Clock) -> Shop:
    """A store ready to sell: items and stock, users per post, the cashier and pharmacist logged in at T01
    with its shift open and the pharmacist on duty; shop["clock"] is the test's clock."""
    items = seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    cashier = till_login(client, "u_cashier", ROLE_PINS["cashier"])
    pharmacist = till_login(client, "u_pharmacist", ROLE_PINS["pharmacist"])
    manager = login(client, "u_manager", ROLE_PINS["manager"])
    shift = client.post("/shifts", json={"float_fen": 20000}, headers=cashier)
    assert shift.status_code == 201, shift.text
    return {"client": client, "items": items, "cashier": cashier, "pharmacist": pharmacist, "manager": manager,
            "shift_id": shift.json()["id"], "clock": clock}


def qualify_pharmacist(engine: Engine, ctx: Ctx, username: str = "u_pharmacist") -> None:
    """A staff record that passes STAFF-01 today: qualified, registered at this store, contract in term."""
    from datetime import timedelta

    from server.db.uow import core_unit, orm
    from server.services.store.users import find_user, set_staff_profile, staff_profile

    with core_unit(engine) as u:
        user = find_user(orm(u), ctx, username)
        if staff_profile(orm(u), id_of(user)) is None:
            set_staff_profile(u, ctx, id_of(user), {
                "qualification": "licensed_pharmacist", "qualification_no": "ZY-0001",
                "qualification_expiry": ctx.today + timedelta(days=1000), "registered_store_code": ctx.settings.store.fixmedins_code,
                "contract_start": ctx.today - timedelta(days=100), "contract_end": ctx.today + timedelta(days=900)})


def pharmacist_on_duty(shop: Shop) -> None:
    """The shop's pharmacist qualified and on duty in the shop's shift (RX-10)."""
    state = service_state(shop["client"])
    qualify_pharmacist(state.engine, Ctx(state.store_id, state.settings))
    on = shop["client"].post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    assert on.status_code in (200, 201), on.text


def _generic_name(c: TestClient, shop: Shop, item_id: int) -> str:
    """The drug as the prescriber wrote it: the item's generic name (RX-04 compares them at review)."""
    item = c.get(f"/items/{item_id}", headers=shop["manager"]).json()
    return str(item["generic_name"] or item["name"])


def prescribe(shop: Shop, sale_id: str, lines: list[tuple[int, int, bool]], approve: bool = True,
              **fields: Any) -> dict[str, Any]:
    """A paper prescription for the shop's sale (item id, qty, split per line), reviewed by the shop's
    pharmacist on duty and tied to the sale — what RX-01 asks before any Rx line is paid."""
    c, today = shop["client"], shop["clock"].today
    body = {"rx_no": f"RX-{uuid.uuid4().hex[:10]}", "institution_code": "H44030000001", "institution_name": "示范医院",
            "doctor_name": "李医生", "issued_on": fields.pop("issued_on", today.isoformat()),
            "patient_name": "张三", "patient_sex": "男", "patient_age": 40, "diagnosis": "急性支气管炎",
            "doctor_signed": True,
            "lines": [{"item_id": item_id, "qty": qty, "split": split, "dosage": "0.5g", "frequency": "qid",
                       "route": "口服", "dosage_form": "胶囊", "drug_name": _generic_name(c, shop, item_id)}
                      for item_id, qty, split in lines]} | fields
    rx = c.post("/prescriptions", json=body, headers=shop["cashier"])
    assert rx.status_code == 201, rx.text
    if approve:
        pharmacist_on_duty(shop)
        ok = c.post(f"/prescriptions/{rx.json()['id']}/review", json={"verdict": "approved"}, headers=shop["pharmacist"])
        assert ok.status_code == 200, ok.text
    tied = c.post(f"/sales/{sale_id}/prescription", json={"prescription_id": rx.json()["id"]}, headers=shop["cashier"])
    assert tied.status_code == 200, tied.text
    return c.get(f"/prescriptions/{rx.json()['id']}", headers=shop["cashier"]).json()
