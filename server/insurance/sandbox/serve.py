"""Running the sandbox centre: as `dingdian sandbox-centre`, or in a thread for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from server.insurance.sandbox.app import DEFAULT_PATH, create_sandbox_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_forever(db_path: str | Path, host: str = "127.0.0.1", port: int = 8601, path: str = DEFAULT_PATH) -> None:
    uvicorn.run(create_sandbox_app(db_path, path), host=host, port=port, log_level="warning")


def start_in_thread(db_path: str | Path, path: str = DEFAULT_PATH, timeout: float = 15) -> tuple[str, Callable[[], None]]:
    """The sandbox on a free loopback port in a daemon thread: (base URL, stop)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(db_path, path), host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, name="sandbox-centre", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the sandbox centre did not start")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return base, stop
