"""An acknowledged completion survives a crash.

The real service (`dingdian serve`) is killed with SIGKILL in the middle of a stream of completions,
restarted on the same database, and the store is checked: every sale the till saw acknowledged is
there and whole (lines, tenders, stock movements, audit entry exactly as acknowledged), no sale is
partial, stock equals opening minus sold, sale numbers have no gap and the audit chain verifies.
Five kills per backend in each run (each at a random instant of a stream; CI's runs add up to more).

What a SIGKILL proves and what it does not: the process dies at any instruction, but the kernel keeps
what it was given, so this shows atomicity and that the acknowledgement comes only after the commit.
Surviving a power cut is the durability setting's job: SQLite in WAL with synchronous=FULL (fsync of
the WAL at every commit), PostgreSQL with synchronous_commit on — asserted here on the engine the
service itself builds (fsync and full_page_writes are the database server's own settings).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select

from server import audit
from server.config import ROOT, Settings
from server.db.engine import make_engine
from server.db.models import AuditEntry, Item, Sale, SaleLine, Tender
from server.db.models.ledger import StockMovement
from server.db.uow import core_unit, read_session
from server.services.context import Ctx
from server.services.stock import batches as stock
from tests.conftest import BARCODE_MASK, BARCODE_VITC, ROLE_PINS, add_role_users, seed_shop

pytestmark = pytest.mark.slow

ROUNDS = 5  # kills per backend: each costs a service start (~4 s on CI), and the suite has 15 minutes
KILL_AFTER_MS = (50, 400)  # how long the stream runs, once warm (one sale acknowledged), before the kill
BULK = 100_000  # units of stock added so that no completion is ever refused for stock
DINGDIAN = ROOT / ".venv" / "bin" / "dingdian"
STARTUP_TIMEOUT = 60.0  # seconds for the service to answer /health (a loaded machine is slow to import)


# --- the service as a process --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_inode(port: int) -> str | None:
    """The socket inode listening on 127.0.0.1:port (or 0.0.0.0:port), from /proc/net/tcp."""
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = row.split()
        addr, local_port = cols[1].split(":")
        if int(local_port, 16) == port and cols[3] == "0A" and addr in ("0100007F", "00000000"):
            return cols[9]
    return None


def _holds_socket(pid: int, inode: str) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                return True
        except OSError:
            continue
    return False


class Service:
    """`dingdian serve` on its own port. The process started is the one serving: `dingdian` is a console
    script whose shebang runs the venv's python, and uvicorn serves in that same process (no workers,
    no reloader). `start` proves it: the listening socket belongs to that very pid."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log, self.port = config, log, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.startups: list[float] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None
        env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")}  # the config file decides
        t0 = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(DINGDIAN), "serve", "--config", str(self.config), "--port",
                                          str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=ROOT, start_new_session=True)
        deadline = t0 + STARTUP_TIMEOUT
        while True:
            assert self.proc.poll() is None, f"the service exited ({self.proc.returncode}): {self.log.read_text()}"
            try:
                r = httpx.get(self.base + "/health", timeout=2)
                if r.status_code == 200:
                    assert r.json()["status"] == "ok", r.text
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no /health within {STARTUP_TIMEOUT}s: {self.log.read_text()}"
            time.sleep(0.05)
        self.startups.append(time.monotonic() - t0)
        cmdline = Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert str(DINGDIAN).encode() in cmdline and b"serve" in cmdline, cmdline
        inode = _listening_inode(self.port)
        assert inode is not None and _holds_socket(self.proc.pid, inode), "the started process is not the server"

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL
        self.proc = None
        # nothing else was serving: the port is dead with the process
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


# --- the till: a stream of completions ---------------------------------------------------------------

@dataclass
class Stream:
    """What one client thread saw. A sale is acknowledged only when its completion answered 200."""

    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_flight: tuple[str, str, dict[str, Any] | None] | None = None  # sale id, step, completion body
    ended_by: BaseException | None = None
    unexpected: str | None = None
    requests: int = 0
    latencies: list[float] = field(default_factory=list)


class _Refused(Exception):
    pass


def _stream(base: str, token: str, seed: int, out: Stream) -> None:
    rng = random.Random(seed)

    def post(c: httpx.Client, path: str, body: dict[str, Any], want: int) -> dict[str, Any]:
        t0 = time.monotonic()
        r = c.post(path, json=body)
        out.latencies.append(time.monotonic() - t0)
        out.requests += 1
        if r.status_code != want:
            raise _Refused(f"{path} {r.status_code} {r.text}")
        return r.json()

    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            while True:
                sid = str(uuid.uuid4())
                out.in_flight = (sid, "open", None)
                post(c, "/sales", {"id": sid}, 201)
                total = 0
                for _ in range(rng.randint(1, 3)):
                    out.in_flight = (sid, "line", None)
                    total = post(c, f"/sales/{sid}/lines", {"barcode": rng.choice([BARCODE_VITC, BARCODE_MASK]),
                                                            "qty": rng.randint(1, 3)}, 201)["total_fen"]
                body = {"tenders": [{"kind": "cash", "amount_fen": total,
                                     "tendered_fen": total + rng.choice([0, 50, 1000])}]}
                out.in_flight = (sid, "complete", body)
                out.acked[sid] = post(c, f"/sales/{sid}/complete", body, 200)
                out.in_flight = None
    except httpx.TransportError as exc:  # the service died under us: the expected end
        out.ended_by = exc
    except _Refused as exc:
        out.unexpected = str(exc)


# --- the store after the crash -----------------------------------------------------------------------

def _check_store(engine: Engine, ctx: Ctx, acked: dict[str, dict[str, Any]], opening: dict[int, int]) -> int:
    """Every acknowledged sale present and as acknowledged; every sale whole or not completed at all;
    stock = opening − sold; sale numbers gap-free; the audit chain verifies. Returns completed count."""
    with read_session(engine) as s:
        sales = {x.id: x for x in s.exec(select(Sale).where(Sale.store_id == ctx.store_id))}
        items = {i.id: i for i in s.exec(select(Item).where(Item.store_id == ctx.store_id))}
        lines: dict[str, list[SaleLine]] = defaultdict(list)
        for ln in s.exec(select(SaleLine).where(SaleLine.store_id == ctx.store_id).order_by(col(SaleLine.line_no))):
            lines[ln.sale_id].append(ln)
        tenders: dict[str, list[Tender]] = defaultdict(list)
        for t in s.exec(select(Tender).where(Tender.store_id == ctx.store_id).order_by(col(Tender.id))):
            tenders[t.sale_id].append(t)
        moves = list(s.exec(select(StockMovement).where(StockMovement.store_id == ctx.store_id)))
        completions: dict[str, int] = defaultdict(int)
        for e in s.exec(select(AuditEntry).where(AuditEntry.store_id == ctx.store_id,
                                                 AuditEntry.action == "sale.complete")):
            completions[e.entity_id] += 1
        report = audit.verify(s, ctx.store_id)
    assert report.ok, report.problems

    # every acknowledged sale: present, completed, exactly as the till was told
    for sid, ack in acked.items():
        sale = sales.get(sid)
        assert sale is not None, f"acknowledged sale {ack['sale_no']} lost"
        assert sale.status == "completed" and sale.sale_no == ack["sale_no"], (sale, ack)
        assert (sale.total_fen, sale.change_fen) == (ack["total_fen"], ack["change_fen"])
        assert [(ln.id, ln.item_id, ln.split, ln.qty, ln.unit_price_fen, ln.amount_fen) for ln in lines[sid]] == [
            (a["id"], a["item_id"], a["split"], a["qty"], a["unit_price_fen"], a["amount_fen"]) for a in ack["lines"]]
        assert [(t.kind, t.amount_fen, t.tendered_fen) for t in tenders[sid]] == [
            (a["kind"], a["amount_fen"], a["tendered_fen"]) for a in ack["tenders"]]

    # every sale is whole or not completed: never a partial one
    by_line: dict[str, list[StockMovement]] = defaultdict(list)
    for mv in moves:
        if mv.ref_type == "sale_line":
            by_line[mv.ref_id].append(mv)
    line_ids = {str(ln.id) for ls in lines.values() for ln in ls}
    assert set(by_line) <= line_ids, "stock moved for a sale line that does not exist"
    sold: dict[int, int] = defaultdict(int)
    numbers: dict[Any, list[int]] = defaultdict(list)
    completed = 0
    for sale in sales.values():
        ls, ts = lines[sale.id], tenders[sale.id]
        if sale.status == "completed":
            completed += 1
            assert ls and ts, f"completed sale {sale.sale_no} without lines or tenders"
            assert sale.total_fen == sum(ln.amount_fen for ln in ls) == sum(t.amount_fen for t in ts)
            assert sale.sale_no and sale.day_no and sale.completed_at is not None
            assert completions[sale.id] == 1, f"sale {sale.sale_no}: {completions[sale.id]} completion entries"
            numbers[sale.business_date].append(sale.day_no)
            for ln in ls:
                base = ln.qty if ln.split else ln.qty * items[ln.item_id].split_ratio
                mvs = by_line[str(ln.id)]
                assert mvs and all(m.kind == "sale" and m.item_id == ln.item_id for m in mvs)
                assert sum(m.qty for m in mvs) == -base, f"sale {sale.sale_no} line {ln.line_no}: stock moved wrong"
                sold[ln.item_id] += base
        else:
            assert not ts and sale.sale_no is None and completions[sale.id] == 0, f"partial sale {sale.id}"
            assert not any(by_line[str(ln.id)] for ln in ls), f"stock left for uncompleted sale {sale.id}"
    for day, nos in numbers.items():
        assert sorted(nos) == list(range(1, len(nos) + 1)), f"sale numbers of {day} have a gap or a double"

    # stock = opening − sold, per item; no batch below zero
    per_item: dict[int, int] = defaultdict(int)
    per_batch: dict[int, int] = defaultdict(int)
    for mv in moves:
        assert mv.location == "sellable"
        per_item[mv.item_id] += mv.qty
        per_batch[mv.batch_id] += mv.qty
    assert all(q >= 0 for q in per_batch.values()), per_batch
    for item_id, qty in opening.items():
        assert per_item[item_id] == qty - sold[item_id], (items[item_id].code, per_item[item_id], qty, sold[item_id])
    return completed


# --- the tests ----------------------------------------------------------------------------------------

def _stock_up(engine: Engine, ctx: Ctx, items: dict[str, int]) -> dict[int, int]:
    today = ctx.today
    with core_unit(engine) as u:
        for key, expires in (("vitc", 600), ("mask", 800)):  # later than the seeded batches: FEFO crosses batches
            stock.add_opening_batch(u, ctx, items[key], None, f"B-{key.upper()}-BULK", "L-BULK",
                                    today - timedelta(days=30), today + timedelta(days=expires), 200, BULK)
    with read_session(engine) as s:  # the book stock on the shelf, expired batches too: what the movements sum to
        rows = s.execute(text("SELECT item_id, SUM(qty) FROM stock_movement WHERE location = 'sellable' "
                              "GROUP BY item_id")).all()
    return {item_id: dict(rows).get(item_id, 0) for item_id in items.values()}


def _config(tmp_path: Path, settings: Settings) -> Path:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    return config


def test_acknowledged_completions_survive_sigkill(backend: str, engine: Engine, ctx: Ctx, settings: Settings,
                                                  tmp_path: Path, request: pytest.FixtureRequest) -> None:
    items = seed_shop(engine, ctx)
    add_role_users(engine, ctx)
    opening = _stock_up(engine, ctx, items)
    engine.dispose()  # during a crash only the service has the database open

    service = Service(_config(tmp_path, settings), tmp_path / "service.log")
    request.addfinalizer(service.stop)
    service.start()
    r = httpx.post(service.base + "/auth/login", json={"username": "u_cashier", "pin": ROLE_PINS["cashier"],
                                                      "till_code": "T01"})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    r = httpx.post(service.base + "/shifts", json={"float_fen": 20000}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text

    rng = random.Random(f"durability-{backend}")
    acked: dict[str, dict[str, Any]] = {}
    tally = {"kills": 0, "acked": 0, "requests": 0, "complete_in_flight_committed": 0,
             "complete_in_flight_absent": 0, "open_or_line_in_flight": 0}
    latencies: list[float] = []
    started = time.monotonic()
    for round_no in range(ROUNDS):
        out = Stream()
        client = threading.Thread(target=_stream, args=(service.base, token, rng.getrandbits(32), out), daemon=True)
        client.start()
        # A fresh process answers its first requests slowly; kill a stream that is really flowing.
        deadline = time.monotonic() + 60
        while not out.acked and client.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert out.acked, f"round {round_no}: no completion acknowledged: {out.unexpected or out.ended_by}"
        time.sleep(rng.uniform(*KILL_AFTER_MS) / 1000)
        assert client.is_alive(), f"round {round_no}: the stream stopped before the kill: {out.unexpected}"
        service.kill()
        tally["kills"] += 1
        client.join(timeout=30)
        assert not client.is_alive(), "the client did not notice the dead service"
        assert out.unexpected is None, f"round {round_no}: {out.unexpected}"
        assert out.ended_by is not None
        acked |= out.acked
        tally["acked"] += len(out.acked)
        tally["requests"] += out.requests
        latencies += out.latencies[1:]  # the first request of a fresh process is the slow one

        service.start()  # same database, after the crash
        try:
            _check_store(engine, ctx, acked, opening)
            in_flight = out.in_flight
            state = None
            if in_flight is not None:
                with read_session(engine) as s:
                    sale = s.get(Sale, in_flight[0])
                    state = sale.status if sale is not None else None
        finally:
            engine.dispose()

        # The sale that was in flight: completed whole, or not completed at all (never partial, checked above).
        if in_flight is not None:
            sid, step, body = in_flight
            if step == "complete":
                assert state in ("completed", "open")
                tally["complete_in_flight_committed" if state == "completed" else "complete_in_flight_absent"] += 1
                # the till retries with the same sale id: the first result if it had committed, else it completes now
                again = httpx.post(f"{service.base}/sales/{sid}/complete", json=body,
                                   headers={"Authorization": f"Bearer {token}"}, timeout=30)
                assert again.status_code == 200, again.text
                assert again.json()["replayed"] is (state == "completed")
                acked[sid] = again.json()
            else:
                assert state in (None, "open")
                tally["open_or_line_in_flight"] += 1

    _check_store(engine, ctx, acked, opening)
    engine.dispose()
    elapsed = time.monotonic() - started
    startups = service.startups
    print(f"\n[{backend}] {tally} in {elapsed:.1f}s; service startup "
          f"min {min(startups):.2f}s / mean {sum(startups) / len(startups):.2f}s / max {max(startups):.2f}s; "
          f"request median {sorted(latencies)[len(latencies) // 2] * 1000:.0f}ms")
    assert tally["kills"] >= ROUNDS
    assert tally["acked"] > 0


def test_the_durability_setting_is_what_we_claim(backend: str, settings: Settings) -> None:
    """SQLite: WAL and synchronous=FULL (2) on every connection of the service's engine, write units of
    work included. PostgreSQL: synchronous_commit on (fsync and full_page_writes are the server's, out of a session's reach)."""
    from server.app import create_app

    app = create_app(settings)
    engines = [app.state.dingdian.engine, make_engine(settings.database.url)]
    try:
        for eng in engines:
            if backend == "sqlite":
                with eng.connect() as conn:
                    assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
                    assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2
                with core_unit(eng) as u:
                    assert u.connection().exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
            else:
                with eng.connect() as conn:
                    # the one a session could turn off (the test cluster runs without fsync: tests/pg.py)
                    assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
                with core_unit(eng) as u:
                    assert u.connection().exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
                    # fsync and full_page_writes are the server's own (postgresql.conf): no connection of the
                    # service can change them, so a chain's durability there is its database's configuration
                    contexts: dict[str, str] = dict(u.connection().exec_driver_sql(
                        "SELECT name, context FROM pg_settings WHERE name IN ('fsync', 'full_page_writes')").all())
                    assert contexts == {"fsync": "sighup", "full_page_writes": "sighup"}
    finally:
        for eng in engines:
            eng.dispose()
