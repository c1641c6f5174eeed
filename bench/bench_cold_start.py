"""Service cold start, process start to `/health` answering 200: `python -m bench.bench_cold_start`.

`dingdian serve` is started as a subprocess on 127.0.0.1 (a free port) against a temp config whose
database is (a) an empty migrated SQLite file and (b) one holding the demo store (`dingdian demo
--no-serve`). GET /health is polled every 10 ms on a fresh connection until it answers 200; the process
is then stopped. Beside it, measured the same way in the same run, the floor: a bare FastAPI app with
one route under uvicorn. The service answers once the routes a sale needs are in and loads the rest on a thread
right after (server.api.routers): one row waits until /health says that is done too. Also the service's imports
alone, and pypinyin's share (process start to exit, teardown included).

The project's modules are byte-compiled first, as a store has them: its first start writes __pycache__ (and pip
compiles what it installs), and the floor's libraries come compiled from their install. Where
PYTHONDONTWRITEBYTECODE is set (as on the development machines) no start would ever write them, and every start
would compile the service's ~160 modules from source again; one row measures that too, on a copy of the packages
without bytecode, to compare with figures taken that way.

Figures are printed, not asserted. Target: < 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench._common import (
    HOST,
    ROOT,
    clean_env,
    dingdian_command,
    free_port,
    process_cpu_s,
    running,
    serve_command,
    write_config,
)

TARGET_S = 1.5
BARE_APP = """
import sys
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
"""
# Where start-up goes: the service's imports, and the share of pypinyin (pulled in by server.api.catalog).
IMPORTS = ("import uvicorn, server.cli, server.app", "import catalog.mnemonic")  # (the routers load at create_app)
# The routes a sale does not need load on a thread once the service answers (server.api.routers); /health says when.
READY = "/health"


PACKAGES = ("server", "catalog", "devices", "pos", "reports")


def compile_bytecode() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in PACKAGES)], cwd=ROOT,
                   env=clean_env(), check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def without_bytecode(directory: Path) -> list[str]:
    """A command prefix importing a copy of the packages that has no bytecode and may write none: every start
    compiles them (`env` execs the command: the pid measured is the service's)."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, directory / package, ignore=shutil.ignore_patterns("__pycache__"))
    return ["env", f"PYTHONPATH={directory}", "PYTHONDONTWRITEBYTECODE=1"]


def prepare(directory: Path, demo: bool) -> Path:
    """A config pointing at a fresh migrated SQLite file, with the demo store loaded if asked."""
    directory.mkdir()
    config = write_config(directory, f"sqlite:///{directory / 'dingdian.db'}")
    step = ["demo", "--no-serve"] if demo else ["db", "upgrade"]
    subprocess.run([*dingdian_command(), *step, "--config", str(config)], cwd=ROOT, env=clean_env(),
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return config


def start_times(cmd_for_port: Callable[[int], list[str]], runs: int, log: Path) -> tuple[list[float], list[float]]:
    """Seconds to the first 200 from /health, and the CPU seconds the process had used by then."""
    wall, cpu = [], []
    for _ in range(runs):
        port = free_port()
        with running(cmd_for_port(port), port, "/health", log) as (proc, elapsed):
            cpu.append(process_cpu_s(proc.pid))
            wall.append(elapsed)
    return wall, cpu


def all_routes_times(cmd_for_port: Callable[[int], list[str]], runs: int,
                      log: Path) -> tuple[list[float], list[float]]:
    """Seconds to /health saying every route is loaded, and the CPU seconds used by then."""
    wall, cpu = [], []
    for _ in range(runs):
        port = free_port()
        with running(cmd_for_port(port), port, "/health", log) as (proc, elapsed):
            since = time.perf_counter()
            while json.loads(urllib.request.urlopen(f"http://{HOST}:{port}{READY}", timeout=5).read()).get(
                    "all_routes", "ready") != "ready":
                time.sleep(0.01)
            cpu.append(process_cpu_s(proc.pid))
            wall.append(elapsed + time.perf_counter() - since)
    return wall, cpu


def import_times(statement: str, runs: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=clean_env(), check=True)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    print(f"== service cold start: process start to GET /health = 200, {args.runs} runs each ==")
    with tempfile.TemporaryDirectory(prefix="dingdian-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        compile_bytecode()
        empty = prepare(directory / "empty", demo=False)
        demo = prepare(directory / "demo", demo=True)
        print(f"bytecode compiled, databases prepared in {time.perf_counter() - started:.1f} s (empty migrated; "
              "demo store)")
        log = directory / "serve.log"
        from_source = without_bytecode(directory / "source")
        rows = {
            "bare FastAPI+uvicorn (floor)": start_times(
                lambda port: [sys.executable, "-c", BARE_APP, HOST, str(port)], args.runs, log),
            "dingdian serve, empty DB": start_times(lambda port: serve_command(empty, port), args.runs, log),
            "dingdian serve, demo DB": start_times(lambda port: serve_command(demo, port), args.runs, log),
            "dingdian serve, demo DB, until every route is loaded": all_routes_times(
                lambda port: serve_command(demo, port), args.runs, log),
            "dingdian serve, demo DB, compiled from source at each start": start_times(
                lambda port: [*from_source, *serve_command(demo, port)], args.runs, log),
        }
        for statement in IMPORTS:
            rows[f"python -c '{statement}' (to exit)"] = import_times(statement, args.runs)
    print()
    print(f"seconds (target < {TARGET_S} s for the service; '!' = median over it); CPU = what the process "
          "itself had used by then, unaffected by other work on the machine")
    print(f"{'':<64} {'median':>7} {'min':>6} {'max':>6}  {'CPU median':>10}")
    for label, (wall, cpu) in rows.items():
        med = statistics.median(wall)
        flag = "!" if label.startswith("dingdian") and med >= TARGET_S else " "
        print(f"{label:<64} {med:7.3f}{flag}{min(wall):6.3f} {max(wall):6.3f}  {statistics.median(cpu):10.3f}")
    print(f"(load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
