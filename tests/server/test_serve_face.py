"""`dingdian serve` as the person starting it sees it (issue #18): it says where it listens, writes its log to
its file, and each start-up problem someone can fix by hand is one line in Chinese and English, not a traceback:
a port already in use, a config saved in GBK or with a BOM, a SQLite path whose directory is missing, a bad
DINGDIAN_* value (named by the variable, not the file). The real command, as a subprocess."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from server.config import ROOT, Settings
from tests.service import free_port, start_service

DINGDIAN = str(Path(sys.executable).parent / "dingdian")
BASE = (ROOT / "config.toml").read_text(encoding="utf-8")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")} | extra


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DINGDIAN, "serve", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env or _env())


def _one_bilingual_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    line = lines[0]
    assert CHINESE.search(line) and re.search(r"[a-z]{4,} [a-z]{2,}", line), line  # both languages
    return line


def _config(tmp_path: Path, url: str = "sqlite:///var/dingdian.db") -> str:
    return BASE.replace('url = "sqlite:///var/dingdian.db"', f'url = "{url}"')


def test_serve_says_where_it_listens_and_logs_to_its_file(settings: Settings, tmp_path: Path) -> None:
    base, stop = start_service(settings, tmp_path)
    try:
        # It answered /health before the routes a sale does not need were loaded (server.api.routers); a request
        # for one at once is answered as that route would (401: no login), not 404, and the API's document lists it.
        assert httpx.get(f"{base}/checklist", timeout=30).status_code == 401
        assert httpx.get(f"{base}/health", timeout=5).json()["all_routes"] == "ready"
        assert {"/checklist", "/uploads", "/sales/{sale_id}/complete"} <= set(
            httpx.get(f"{base}/openapi.json", timeout=30).json()["paths"])
        log = tmp_path / "service.log"  # beside the SQLite database: where `dingdian demo` sends the child's output
        text = log.read_text(encoding="utf-8")
        assert f"service listening on {base}" in text and "服务已启动" in text
        # the service's own log records (logging, formatted), once each: stderr is that file, not a second copy
        assert len(re.findall(r"\d{4}-\d\d-\d\d [\d:,]+ INFO dingdian: service listening on ", text)) == 1
        taken = _serve("--config", str(tmp_path / "config.toml"), "--port", base.rsplit(":", 1)[1])
        line = _one_bilingual_line(taken)
        assert "已被占用" in line and "already in use" in line
    finally:
        stop()


def test_a_port_taken_by_another_program_is_one_line(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(_config(tmp_path, settings.database.url), encoding="utf-8")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        line = _one_bilingual_line(_serve("--config", str(tmp_path / "config.toml"), "--port", str(port)))
    assert f"port {port}" in line and "已被占用" in line


@pytest.mark.parametrize(("name", "encode", "said"), [
    ("gbk", lambda text: text.encode("gbk"), ("GBK", "not UTF-8")),
    ("bom", lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"), ("BOM", "byte-order mark")),
])
def test_a_config_saved_in_gbk_or_with_a_bom_is_one_line(tmp_path: Path, name: str, encode: Callable[[str], bytes],
                                                         said: tuple[str, str]) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_bytes(encode(BASE))
    line = _one_bilingual_line(_serve("--config", str(path)))
    assert str(path) in line and all(s in line for s in said)


def test_a_sqlite_path_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "dingdian.db"
    path = tmp_path / "config.toml"
    path.write_text(_config(tmp_path, f"sqlite:///{missing}"), encoding="utf-8")
    line = _one_bilingual_line(_serve("--config", str(path), "--port", str(free_port())))
    assert str(missing.parent) in line and "不存在" in line
    assert not missing.parent.exists()  # nothing made on the way (no empty database, no log)


def test_a_bad_environment_value_names_the_variable_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE, encoding="utf-8")
    line = _one_bilingual_line(_serve("--config", str(path), env=_env(DINGDIAN_SERVICE__PORT="eighty")))
    assert "DINGDIAN_SERVICE__PORT" in line and "eighty" in line and str(path) not in line
    # a bad value in the file still names the file
    path.write_text(BASE.replace("port = 8600", 'port = "eighty"'), encoding="utf-8")
    line = _one_bilingual_line(_serve("--config", str(path)))
    assert str(path) in line and "service.port" in line and "DINGDIAN_" not in line
