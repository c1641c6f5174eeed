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
from server.db.migrate import upgrade
from server.db.session import make_engine
from server.services.context import Ctx
from server.services.store import bootstrap_store
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


def make_settings(db_url: str, **overrides: Any) -> Settings:
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
    from server.db.session import write_session
    from server.roles import Role
    from server.services.users import add_user

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
