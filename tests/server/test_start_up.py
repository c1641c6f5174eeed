"""The service starts light (issue 16 §5, `python -m bench.bench_cold_start`): what it does not need to answer its
first request is loaded where it is used, and the catalog's index in the background once the service is up."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import ROOT, Settings
from server.insurance import factory
from server.insurance.transport import Deferred, Reply, Transport
from server.services.catalog.search import CatalogSearch
from tests.conftest import fresh_database, make_settings

# Loaded where used, never by importing the service and building its app: the migrations tool and its templates
# (an upgrade), the HTTP client and what httpx pulls in (the first message to the centre), the till, the card and
# printer stacks, crypto, spreadsheets (an import), pinyin (the catalog's upkeep), argon2 (the first login).
LAZY = ("alembic", "mako", "pygments", "httpx", "httpcore", "rich", "textual", "pos", "gmssl", "openpyxl", "escpos",
        "smartcard", "pypinyin", "pwdlib", "argon2")

_STARTED = """
import json, sys
from pathlib import Path
import server.cli  # the `dingdian serve` entry
from server.app import create_app
from server.config import load_settings
create_app(load_settings(Path(sys.argv[1]), database={"url": sys.argv[2]}))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_building_the_service_loads_none_of_what_it_does_not_need_to_start(request: pytest.FixtureRequest,
                                                                          tmp_path: Path) -> None:
    missing = [name for name in LAZY if importlib.util.find_spec(name) is None]
    assert not missing, f"not installed, so this test would prove nothing about them: {missing}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _STARTED, str(ROOT / "config.toml"),
                           fresh_database(request, "sqlite", tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "server" in loaded and "fastapi" in loaded  # it did import the service
    assert sorted(loaded & set(LAZY)) == []


def test_the_catalog_index_is_loaded_off_the_request_path_once_the_service_is_up(
        request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings: Settings = make_settings(fresh_database(request, "sqlite", tmp_path))
    indexed: list[str] = []
    linked: list[str] = []
    refresh, build = CatalogSearch.refresh, factory.httpx_transport

    def recorded_refresh(self: CatalogSearch) -> None:
        indexed.append(threading.current_thread().name)
        refresh(self)

    def recorded_build(connect_timeout: float) -> Transport:
        linked.append(threading.current_thread().name)
        return build(connect_timeout)

    monkeypatch.setattr(CatalogSearch, "refresh", recorded_refresh)
    monkeypatch.setattr(factory, "httpx_transport", recorded_build)
    app = create_app(settings)
    assert indexed == []  # building the app does not load it: the running service does, in its own thread
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while not indexed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert indexed[:1] == ["catalog-index"]
        assert client.get("/health").json()["status"] == "ok"
    app.state.dingdian.engine.dispose()
    assert linked == []  # no message was sent to the centre: its HTTP stack was never built


class _Counted:
    def __init__(self) -> None:
        self.posts = 0
        self.closed = False

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        self.posts += 1
        return Reply(200, body)

    def close(self) -> None:
        self.closed = True


def test_a_deferred_transport_is_built_once_by_the_first_message() -> None:
    built: list[_Counted] = []

    def build() -> Transport:
        built.append(_Counted())
        return built[-1]

    link = Deferred(build)
    assert built == []
    results: list[Reply] = []
    senders = [threading.Thread(target=lambda i=i: results.append(link.post("http://centre", b"%d" % i, {}, 1.0)))
               for i in range(8)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert len(built) == 1 and built[0].posts == 8 and len(results) == 8  # eight first messages at once: one build
    link.close()
    assert built[0].closed

    unused = Deferred(build)
    unused.close()  # a service stopped before it sent anything
    assert len(built) == 1
