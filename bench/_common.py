"""Helpers the benchmarks share: percentiles, a temp config, the service as a subprocess on 127.0.0.1."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def percentile(sorted_ms: Sequence[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, round(p / 100 * (len(sorted_ms) - 1)))]


def p50_p99(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return percentile(ms, 50), percentile(ms, 99)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def write_config(directory: Path, db_url: str) -> Path:
    """The repository's config.toml with [database] url pointed at `db_url`."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^(\[database\][^\[]*?^url\s*=\s*)"[^"]*"', lambda m: f'{m.group(1)}"{db_url}"', text)
    if n != 1:
        raise RuntimeError("config.toml: no [database] url line to replace")
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def dingdian_command() -> list[str]:
    # this checkout's code, also from a git worktree sharing the venv (whose editable install points elsewhere)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    script = Path(sys.executable).with_name("dingdian")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from server.cli import main; main()"]


def serve_command(config: Path, port: int) -> list[str]:
    return [*dingdian_command(), "serve", "--config", str(config), "--port", str(port)]


def clean_env() -> dict[str, str]:
    """The environment without DINGDIAN_* overrides, so the temp config is what the service reads."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")}


def get_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """One GET on a fresh connection: the status, or None while nothing answers yet."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return None
    finally:
        conn.close()


def wait_until_up(proc: subprocess.Popen[bytes], port: int, path: str, started: float,
                  deadline_s: float = 30.0, poll_s: float = 0.010) -> float:
    """Poll `path` every `poll_s` until it answers 200; seconds since `started` (a perf_counter)."""
    while True:
        status = get_status(port, path)
        if status == 200:
            return time.perf_counter() - started
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {path} answered")
        if time.perf_counter() - started > deadline_s:
            raise RuntimeError(f"{path} did not answer 200 within {deadline_s:.0f} s (last status {status})")
        time.sleep(poll_s)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def all_routes_loaded(port: int, path: str, deadline_s: float = 30.0) -> None:
    """Wait until the service says every route is in (`dingdian serve` loads those a sale does not need on a thread
    after it answers: server.api.routers), so a bench times a settled service, not one still importing beside its
    first requests. A bare app's /health says nothing of it: nothing to wait for."""
    until = time.perf_counter() + deadline_s
    while time.perf_counter() < until:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", path)
            said = json.loads(conn.getresponse().read() or b"{}")
        finally:
            conn.close()
        if not isinstance(said, dict) or said.get("all_routes", "ready") == "ready":
            return
        time.sleep(0.01)
    raise RuntimeError(f"{path} still says the service is loading its routes after {deadline_s:.0f} s")


@contextmanager
def running(cmd: list[str], port: int, health_path: str, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start `cmd`, wait for `health_path` to answer 200, yield (process, start-up seconds) once every route is in;
    always stop it."""
    with log.open("ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        try:
            elapsed = wait_until_up(proc, port, health_path, started)
            all_routes_loaded(port, health_path)
        except RuntimeError as exc:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n--- {' '.join(cmd)} output ---\n{tail}") from exc
        yield proc, elapsed
    finally:
        stop(proc)


def rule(width: int = 96) -> str:
    return "-" * width


def year_store_arguments(parser: argparse.ArgumentParser) -> None:
    """The size of the generated year's store the month-end and checklist benches share, and their rounds."""
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
