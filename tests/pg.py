"""A private PostgreSQL cluster for the test run: its own data directory, loopback only, no systemd.

initdb refuses to run as root, so as root the cluster is owned by the `postgres` system user
(created by Debian's package) and its commands run through runuser.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: `make test` installs the postgresql package")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    bindir: Path
    as_postgres: bool

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="dingdian-pg-"))
    os.chmod(root, 0o755)
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(root, _free_port(), bindir, as_postgres)
    data = root / "data"
    cluster._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
    # fsync and full_page_writes off: they guard against the machine losing power, which no test does (the
    # durability test kills the service, not the database), and with them on each test's CREATE/DROP DATABASE
    # waits on the disk (a DROP took ~0.7 s of the suite's ~300 PostgreSQL tests). Both are server-wide settings
    # no session can change, so the service cannot depend on them; synchronous_commit, which a session can turn
    # off, keeps its default and test_durability checks the service leaves it on.
    opts = (f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={root}"
            " -c max_connections=200 -c fsync=off -c full_page_writes=off")
    cluster._run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", cluster.port), timeout=0.5):
                return cluster
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not start; see " + str(root / "log"))
