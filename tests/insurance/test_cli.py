"""`dingdian sandbox-centre` runs the centre on its own ledger; `make demo` starts it beside the service."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.cli import _start_sandbox_centre, _stop_child
from server.config import ROOT
from server.insurance.sandbox.client import SandboxAdmin
from tests.conftest import make_settings
from tests.service import free_port


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the sandbox centre exited"
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the sandbox centre did not answer")


def _run(port: int, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(Path(sys.executable).parent / "dingdian"), "sandbox-centre", "--port", str(port),
                             "--db", str(db)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_the_command_serves_the_centre_and_its_ledger_survives_a_restart(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "centre.db"
    base = f"http://127.0.0.1:{port}"
    proc = _run(port, db)
    try:
        _wait(base, proc)
        admin = SandboxAdmin(base)
        admin.set_policy(yi_selfpay_ratio="0.20")
        before = len(admin.persons())
        admin.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    proc = _run(port, db)
    try:
        _wait(base, proc)
        admin = SandboxAdmin(base)
        assert admin.set_policy()["yi_selfpay_ratio"] == "0.20" and len(admin.persons()) == before == 6
        admin.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_demo_starts_the_sandbox_beside_the_service(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(db_url, insurance={"url": f"http://127.0.0.1:{port}",
                                                "sandbox_db": str(tmp_path / "demo-centre.db")})
    child = _start_sandbox_centre(settings)
    try:
        assert child is not None and child.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/health").json()["db"] == str(tmp_path / "demo-centre.db")
    finally:
        _stop_child(child)
    assert child.poll() is not None
    assert _start_sandbox_centre(make_settings(db_url, insurance={"gateway": "http"})) is None
