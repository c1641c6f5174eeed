"""A real service for tests: `dingdian serve` in a subprocess on a free port, with a temp config whose
database is the test's database. Started after the test has seeded that database; stopped by the finalizer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from server.config import ROOT, Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(settings: Settings, tmp_path: Path, timeout: float = 20,
                  env_overrides: dict[str, str] | None = None) -> tuple[str, Callable[[], None]]:
    """Start the service on the test database; return its base URL and a stop function.
    `env_overrides`: DINGDIAN_* settings for this service only (e.g. a serial scanner's port)."""
    config = tmp_path / "config.toml"
    source = (ROOT / "config.toml").read_text(encoding="utf-8")
    assert 'url = "sqlite:///var/dingdian.db"' in source
    config.write_text(source.replace('url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'),
                      encoding="utf-8")
    port = free_port()
    log_path = tmp_path / "service.log"
    log = log_path.open("ab")  # appending, as the service's own log handler does: the two share the file
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")} | (env_overrides or {})
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dingdian"), "serve", "--config", str(config),
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            stop()
            pytest.fail(f"the service exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            health = httpx.get(f"{base}/health", timeout=1)
            if health.status_code == 200 and health.json()["status"] == "ok":
                return base, stop
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop()
            pytest.fail(f"the service did not answer /health within {timeout} s:\n{log_path.read_text()}")
        time.sleep(0.2)
