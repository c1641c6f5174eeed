"""PostgreSQL's client programs (pg_dump, pg_restore), and the URL they are given without its password."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from server.errors import AppError


def pg_tool(name: str) -> str:
    """The newest installed version's program (it reads the dumps of every older server), else the one on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise AppError(500, "SEC-05", f"未找到 {name}（请安装 postgresql-client）",
                       f"{name} not found: install postgresql-client", {"program": name})
    return path


def libpq(url: str | URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, and the environment that carries it (never on a command
    line, where `ps` would show it)."""
    u = make_url(str(url)) if isinstance(url, str) else url
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def run(args: list[str], env: dict[str, str], what_zh: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-400:]
        raise AppError(500, "SEC-05", f"{what_zh}失败：{detail}", f"{Path(args[0]).name} failed: {detail}",
                       {"program": Path(args[0]).name, "returncode": done.returncode})
