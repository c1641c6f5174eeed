"""Selling over HTTP, beside its floors: `python -m bench.bench_selling [--duration 30]`.

A temp SQLite store (bench._service: 8 OTC/device items with 100,000 units each, tills T01..T04, one
cashier per till) is served by `dingdian serve` (uvicorn, a subprocess on 127.0.0.1). Beside it, started
the same way (uvicorn.run, log level warning) in the same run, a bare FastAPI app with one sync POST route
taking a small JSON body and returning a small JSON, no database. The till side is one keep-alive
httpx.Client per till.

  scan→line     1,000 POST /sales/{id}/lines (qty 1, barcodes in turn, a new sale every 50 scans),
                interleaved in blocks of 50 with 1,000 POSTs to the bare route on an equal client.
                Target: median and p99 <= 1.5x the bare route.
  cash sale     200 sales of 5 lines paid in cash: POST /sales/{id}/complete alone, and the whole sale
                (open + 5 lines + complete). Interleaved with 200 bare sqlite3 transactions on a copy of
                the store's database (WAL, synchronous=FULL, BEGIN IMMEDIATE ... COMMIT) writing the rows
                of such a sale: 1 sale, 5 lines, 5 stock movements, 1 tender, 1 audit entry (hash-chained,
                head updated), the day counter. The copy is first written to until its WAL has wrapped,
                as the service's has by then. Target: completion median <= 3 ms on SQLite.
  throughput    4 tills on 4 threads, each its own client, token and shift, completing 3-line cash sales
                for --duration seconds: sales/s, completion p50/p99, errors (should be 0).

Also the machine's fsync floor (4 KiB overwritten, and appended, then os.fsync, in the database's
directory): with synchronous=FULL every commit waits for at least one fsync of the WAL. And the CPU the
server processes used per request (Linux /proc), which, unlike wall-clock latency, other load on the
machine barely changes.

Figures are printed, not asserted. Latencies are wall-clock round trips as the till sees them.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypedDict

import httpx

from bench._common import HOST, free_port, p50_p99, running, serve_command
from bench._service import BenchStore, build_store

TARGET_SCAN_RATIO = 1.5
TARGET_COMPLETE_MS = 3.0
BASKET = 50  # scans per sale in the scan phase
WARMUP = 50

BARE_APP = """
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field


class LineIn(BaseModel):
    barcode: str = Field(min_length=1, max_length=14)
    qty: int = Field(default=1, ge=1, le=10_000)


class LineOut(BaseModel):
    barcode: str
    qty: int
    amount_fen: int


app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/lines", response_model=LineOut, status_code=201)
def add_line(body: LineIn) -> LineOut:
    return LineOut(barcode=body.barcode, qty=body.qty, amount_fen=350 * body.qty)


uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
"""


def ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def client(port: int) -> httpx.Client:
    # trust_env=False: no proxy from the environment between the till and 127.0.0.1.
    return httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60, trust_env=False)


class TillError(RuntimeError):
    pass


class Till:
    """One till: its own keep-alive connection, token and open shift."""

    def __init__(self, port: int, username: str, pin: str, till_code: str) -> None:
        self.http = client(port)
        r = self.http.post("/auth/login", json={"username": username, "pin": pin, "till_code": till_code})
        self._check(r, 200)
        self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        r = self.http.post("/shifts", json={"float_fen": 20_000})
        if r.status_code != 201 and r.json().get("code") != "SHIFT-OPEN":
            self._check(r, 201)

    @staticmethod
    def _check(r: httpx.Response, status: int) -> httpx.Response:
        if r.status_code != status:
            raise TillError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
        return r

    def open_sale(self) -> str:
        sale_id = str(uuid.uuid4())
        self._check(self.http.post("/sales", json={"id": sale_id}), 201)
        return sale_id

    def scan(self, sale_id: str, barcode: str) -> int:
        """Add one unit; the sale's total after it."""
        r = self._check(self.http.post(f"/sales/{sale_id}/lines", json={"barcode": barcode, "qty": 1}), 201)
        return r.json()["total_fen"]

    def pay_cash(self, sale_id: str, total_fen: int) -> None:
        tendered = -(-total_fen // 10_000) * 10_000  # the next 100 yuan note
        body = {"tenders": [{"kind": "cash", "amount_fen": total_fen, "tendered_fen": tendered}]}
        r = self._check(self.http.post(f"/sales/{sale_id}/complete", json=body), 200)
        if r.json()["status"] != "completed":
            raise TillError(f"sale {sale_id} not completed: {r.text[:300]}")

    def close(self) -> None:
        self.http.close()


# --- floors -------------------------------------------------------------------------------------------

def fsync_floor(directory: Path, append: bool, n: int = 200) -> list[float]:
    """4 KiB written then os.fsync, in the database's directory: the durability floor of this disk.

    Overwriting in place syncs data only; appending also commits the file's new size (a journal commit
    on ext4/xfs). SQLite's WAL appends until its first checkpoint, then overwrites itself from the start.
    """
    path = directory / "fsync.probe"
    block = os.urandom(4096)
    out = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, block)
        os.fsync(fd)
        for _ in range(n):
            if append:
                os.write(fd, block)
            else:
                os.pwrite(fd, block, 0)
            t0 = time.perf_counter()
            os.fsync(fd)
            out.append(ms_since(t0))
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc), for the service's CPU per request."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BareSale:
    """The rows of a completed 5-line cash sale, written by hand with sqlite3 in one durable transaction."""

    def __init__(self, store: BenchStore, path: Path) -> None:
        src = sqlite3.connect(store.db_path)
        dst = sqlite3.connect(path)
        src.backup(dst)  # the same schema, indexes and seed rows as the service's database
        src.close()
        dst.close()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            self.conn.execute(f"PRAGMA {pragma}")
        c = self.conn
        self.store_id = c.execute("SELECT id FROM store").fetchone()[0]
        self.till_id = c.execute("SELECT id FROM till WHERE code = 'T01'").fetchone()[0]
        self.user_id = c.execute("SELECT id FROM app_user WHERE username = ?", (store.cashiers[0],)).fetchone()[0]
        self.stock = c.execute("SELECT b.item_id, b.id, i.price_fen FROM batch b JOIN item i ON i.id = b.item_id "
                               "ORDER BY b.item_id").fetchall()
        now = self._now()
        c.execute("BEGIN IMMEDIATE")
        self.shift_id = c.execute(
            "INSERT INTO shift (store_id, till_id, status, business_date, float_fen, opened_by, opened_at) "
            "VALUES (?, ?, 'open', ?, 20000, ?, ?)", (self.store_id, self.till_id, now[:10], self.user_id, now)).lastrowid
        c.execute("COMMIT")
        self.n = 0
        self.path = path

    def warm_up(self, limit: int = 2_000) -> int:
        """Write sales until the WAL has been checkpointed and is being reused from its start (its size
        stops growing), as the service's WAL is after the scan phase. Returns the transactions written."""
        wal = Path(f"{self.path}-wal")
        page = self.conn.execute("PRAGMA page_size").fetchone()[0]
        threshold = page * self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        size, steady = -1, 0
        for n in range(1, limit + 1):
            self.write()
            now = wal.stat().st_size if wal.exists() else 0
            steady = steady + 1 if now == size and now >= threshold else 0
            size = now
            if steady >= 20:
                return n
        return limit

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def write(self) -> float:
        """One sale; milliseconds from BEGIN IMMEDIATE to COMMIT returned."""
        c = self.conn
        sale_id = str(uuid.uuid4())
        picks = [self.stock[(self.n + k) % len(self.stock)] for k in range(5)]
        self.n += 1
        t0 = time.perf_counter()
        now = self._now()
        day = now[:10]
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("INSERT INTO day_counter (store_id, business_date, last_no) VALUES (?, ?, 1) "
                      "ON CONFLICT (store_id, business_date) DO UPDATE SET last_no = last_no + 1", (self.store_id, day))
            day_no = c.execute("SELECT last_no FROM day_counter WHERE store_id = ? AND business_date = ?",
                               (self.store_id, day)).fetchone()[0]
            total = sum(price for _, _, price in picks)
            tendered = -(-total // 10_000) * 10_000
            sale_no = f"{day.replace('-', '')}-{day_no:04d}"
            c.execute("INSERT INTO sale (id, store_id, till_id, shift_id, status, opened_by, opened_at, total_fen, "
                      "business_date, day_no, sale_no, completed_by, completed_at, change_fen, void_reason) "
                      "VALUES (?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
                      (sale_id, self.store_id, self.till_id, self.shift_id, self.user_id, now, total, day, day_no,
                       sale_no, self.user_id, now, tendered - total))
            lines, allocations = [], []
            for no, (item_id, batch_id, price) in enumerate(picks, start=1):
                line_id = c.execute(
                    "INSERT INTO sale_line (store_id, sale_id, line_no, item_id, split, qty, unit_price_fen, "
                    "amount_fen, added_at) VALUES (?, ?, ?, ?, 0, 1, ?, ?, ?)",
                    (self.store_id, sale_id, no, item_id, price, price, now)).lastrowid
                c.execute("INSERT INTO stock_movement (store_id, batch_id, item_id, kind, qty, at, user_id, ref_type, "
                          "ref_id, note, location) VALUES (?, ?, ?, 'sale', -1, ?, ?, 'sale_line', ?, '', 'sellable')",
                          (self.store_id, batch_id, item_id, now, self.user_id, str(line_id)))
                lines.append({"id": line_id, "store_id": self.store_id, "sale_id": sale_id, "line_no": no,
                              "item_id": item_id, "split": False, "qty": 1, "unit_price_fen": price,
                              "amount_fen": price, "added_at": now})
                allocations.append({"line_id": line_id, "batch_id": batch_id, "qty": 1})
            tender_id = c.execute("INSERT INTO tender (store_id, sale_id, kind, amount_fen, tendered_fen, reference) "
                                  "VALUES (?, ?, 'cash', ?, ?, '')", (self.store_id, sale_id, total, tendered)).lastrowid
            seq, prev = c.execute("SELECT seq, hash FROM audit_head WHERE store_id = ?", (self.store_id,)).fetchone()
            after = {"id": sale_id, "status": "completed", "total_fen": total, "sale_no": sale_no, "lines": lines,
                     "tenders": [{"id": tender_id, "kind": "cash", "amount_fen": total, "tendered_fen": tendered}],
                     "allocations": allocations}
            before, after_json = json.dumps({"id": sale_id, "status": "open"}), json.dumps(after, ensure_ascii=False)
            digest = hashlib.sha256(f"{seq + 1}{prev}{before}{after_json}".encode()).hexdigest()
            c.execute("INSERT INTO audit_entry (store_id, seq, at, user_id, actor, action, entity, entity_id, "
                      "\"before\", \"after\", note, prev_hash, hash) VALUES (?, ?, ?, ?, ?, 'sale.complete', 'sale', "
                      "?, ?, ?, '', ?, ?)", (self.store_id, seq + 1, now, self.user_id, "bench_c01", sale_id, before,
                                             after_json, prev, digest))
            c.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE store_id = ?", (seq + 1, digest, self.store_id))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return ms_since(t0)

    def close(self) -> None:
        self.conn.close()


# --- phases -------------------------------------------------------------------------------------------

def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return ms_since(t0)


def bare_post(bare: httpx.Client, barcode: str) -> None:
    r = bare.post("/lines", json={"barcode": barcode, "qty": 1})
    if r.status_code != 201:
        raise TillError(f"bare POST /lines: {r.status_code} {r.text[:200]}")


def warm_up(till: Till, bare: httpx.Client, barcodes: list[str]) -> None:
    """Not measured: both servers' first requests (lazy route state, caches, the threadpool)."""
    sale = till.open_sale()
    for i in range(WARMUP):
        till.scan(sale, barcodes[i % len(barcodes)])
        bare_post(bare, barcodes[i % len(barcodes)])
    total = till.scan(till.open_sale(), barcodes[0])
    sale = till.open_sale()
    for b in barcodes[:5]:
        total = till.scan(sale, b)
    till.pay_cash(sale, total)


def scan_phase(till: Till, bare: httpx.Client, barcodes: list[str], n: int) -> tuple[list[float], list[float]]:
    """n scans into sales of BASKET scans, interleaved block by block with n bare POSTs."""
    scans: list[float] = []
    bares: list[float] = []
    k = 0
    while len(scans) < n:
        sale = till.open_sale()
        block = min(BASKET, n - len(scans))
        for _ in range(block):
            barcode = barcodes[k % len(barcodes)]
            k += 1
            scans.append(timed(partial(till.scan, sale, barcode)))
        for _ in range(block):
            barcode = barcodes[k % len(barcodes)]
            bares.append(timed(partial(bare_post, bare, barcode)))
    return scans, bares


def sale_phase(till: Till, bare_sql: BareSale, barcodes: list[str], n: int,
               lines: int = 5) -> tuple[list[float], list[float], list[float]]:
    """n sales of `lines` distinct items paid in cash; each followed by one bare sqlite3 sale."""
    completes: list[float] = []
    wholes: list[float] = []
    bares: list[float] = []
    for i in range(n):
        t0 = time.perf_counter()
        sale = till.open_sale()
        total = 0
        for j in range(lines):
            total = till.scan(sale, barcodes[(i + j) % len(barcodes)])
        c0 = time.perf_counter()
        till.pay_cash(sale, total)
        t1 = time.perf_counter()
        bares.append(bare_sql.write())
        completes.append((t1 - c0) * 1000)
        wholes.append((t1 - t0) * 1000)
    return completes, wholes, bares


class Throughput(TypedDict):
    tills: int
    seconds: float
    sales: int
    completes: list[float]  # ms per completion, all tills
    wholes: list[float]  # ms per whole sale (open, scans, complete), all tills
    per_till: list[int]
    errors: list[str]


def throughput_phase(port: int, store: BenchStore, seconds: float, lines: int = 3) -> Throughput:
    tills = [Till(port, store.cashiers[i], store.pin, store.tills[i]) for i in range(len(store.tills))]
    barrier = threading.Barrier(len(tills) + 1)
    deadline = [0.0]
    completes: list[list[float]] = [[] for _ in tills]
    wholes: list[list[float]] = [[] for _ in tills]
    errors: list[list[str]] = [[] for _ in tills]

    def run(i: int) -> None:
        till = tills[i]
        barcodes = store.barcodes[i:] + store.barcodes[:i]  # tills start on different items
        k = 0
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            try:
                t0 = time.perf_counter()
                sale = till.open_sale()
                total = 0
                for _ in range(lines):
                    total = till.scan(sale, barcodes[k % len(barcodes)])
                    k += 1
                c0 = time.perf_counter()
                till.pay_cash(sale, total)
                t1 = time.perf_counter()
                completes[i].append((t1 - c0) * 1000)
                wholes[i].append((t1 - t0) * 1000)
            except Exception as exc:  # counted, and the till carries on with a new sale
                errors[i].append(f"{type(exc).__name__}: {exc}"[:300])

    threads = [threading.Thread(target=run, args=(i,), name=f"till-{i + 1}", daemon=True) for i in range(len(tills))]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    try:
        for t in threads:
            t.join()
    finally:
        deadline[0] = 0.0  # on Ctrl-C the tills stop after their current sale
    elapsed = time.perf_counter() - started
    for till in tills:
        till.close()
    all_completes = [x for per in completes for x in per]
    all_errors = [e for per in errors for e in per]
    return {"tills": len(tills), "seconds": elapsed, "sales": len(all_completes), "completes": all_completes,
            "wholes": [x for per in wholes for x in per], "per_till": [len(c) for c in completes],
            "errors": all_errors}


# --- report ---------------------------------------------------------------------------------------------

def row(what: str, ms: list[float], note: str = "") -> str:
    p50, p99 = p50_p99(ms)
    return f"  {what:<46}{len(ms):>7,}{p50:>10.2f}{p99:>10.2f}   {note}".rstrip()


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="throughput phase, seconds (default 30)")
    parser.add_argument("--scans", type=int, default=1_000, help="scan→line requests measured (default 1000)")
    parser.add_argument("--sales", type=int, default=200, help="5-line cash sales measured (default 200)")
    parser.add_argument("--tills", type=int, default=4, help="concurrent tills in the throughput phase (default 4)")
    args = parser.parse_args(argv)

    print(f"== selling over HTTP: scan→line, 5-line cash sale, {args.tills} tills × {args.duration:g} s "
          f"({os.cpu_count()} CPUs, load average {load_average()}) ==")
    run_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dingdian-bench-selling-") as tmp:
        directory = Path(tmp)
        t0 = time.perf_counter()
        store = build_store(directory, tills=args.tills)
        bare_sql = BareSale(store, directory / "bare.db")
        print(f"store built in {time.perf_counter() - t0:.1f} s: {len(store.barcodes)} items × 100,000 units, "
              f"tills {', '.join(store.tills)}, one cashier each")
        fsync_over = fsync_floor(directory, append=False)
        fsync_append = fsync_floor(directory, append=True)
        bare_warm = bare_sql.warm_up()

        port, bare_port = free_port(), free_port()
        bare_cmd = [sys.executable, "-c", BARE_APP, HOST, str(bare_port)]
        try:
            with running(serve_command(store.config, port), port, "/health", directory / "serve.log") as (svc, up_s), \
                    running(bare_cmd, bare_port, "/health", directory / "bare.log") as (bare_proc, bare_up_s):
                print(f"service up in {up_s:.2f} s, bare FastAPI up in {bare_up_s:.2f} s (both uvicorn.run, "
                      f"log level warning, 127.0.0.1)")
                till = Till(port, store.cashiers[0], store.pin, store.tills[0])
                bare = client(bare_port)
                try:
                    warm_up(till, bare, store.barcodes)
                    gc.collect()
                    cpu0, bcpu0 = cpu_seconds(svc.pid), cpu_seconds(bare_proc.pid)
                    scans, bare_posts = scan_phase(till, bare, store.barcodes, args.scans)
                    cpu1, bcpu1 = cpu_seconds(svc.pid), cpu_seconds(bare_proc.pid)
                    gc.collect()
                    completes, wholes, bare_txns = sale_phase(till, bare_sql, store.barcodes, args.sales)
                    cpu2 = cpu_seconds(svc.pid)
                finally:
                    till.close()
                    bare.close()
                    bare_sql.close()
                gc.collect()
                tp = throughput_phase(port, store, args.duration)
                cpu3 = cpu_seconds(svc.pid)
        except Exception:
            log = directory / "serve.log"
            if log.exists():
                print("--- service log (tail) ---\n" + log.read_text(encoding="utf-8", errors="replace")[-3000:],
                      file=sys.stderr)
            raise

    # -- the table -------------------------------------------------------------------------------------------
    s50, s99 = p50_p99(scans)
    b50, b99 = p50_p99(bare_posts)
    c50, _ = p50_p99(completes)
    x50, _ = p50_p99(bare_txns)
    scan_cpu = (cpu1 - cpu0) * 1000 / len(scans)
    bare_cpu = (bcpu1 - bcpu0) * 1000 / len(bare_posts)
    sale_cpu = (cpu2 - cpu1) * 1000 / len(completes)
    tp_c, tp_w, errors, sales, secs = tp["completes"], tp["wholes"], tp["errors"], tp["sales"], tp["seconds"]
    met_scan = s50 <= TARGET_SCAN_RATIO * b50 and s99 <= TARGET_SCAN_RATIO * b99

    print(f"  {'':<46}{'n':>7}{'median':>10}{'p99':>10}   (ms, wall clock at the client)")
    print("  disk floor, in the database's directory")
    print(row("  4 KiB overwrite + os.fsync", fsync_over))
    print(row("  4 KiB append + os.fsync (size change)", fsync_append))
    print("  scan→line, one keep-alive httpx client")
    print(row("  POST /sales/{id}/lines  (service)", scans,
              f"{s50 / b50:.1f}× median, {s99 / b99:.1f}× p99 of bare (target ≤ {TARGET_SCAN_RATIO}×): "
              f"{'met' if met_scan else 'NOT met'}; server CPU {scan_cpu:.1f} ms/req"))
    print(row("  POST /lines  (bare FastAPI, no DB)", bare_posts, f"server CPU {bare_cpu:.1f} ms/req"))
    print("  5-line cash sale, one keep-alive httpx client")
    print(row("  POST /sales/{id}/complete  (service)", completes,
              f"target median ≤ {TARGET_COMPLETE_MS:g}: {'met' if c50 <= TARGET_COMPLETE_MS else 'NOT met'} "
              f"({c50 / x50:.1f}× the bare txn)"))
    print(row("  whole sale: open + 5 lines + complete", wholes,
              f"7 requests, 7 commits; server CPU {sale_cpu:.1f} ms/sale"))
    print(row("  bare sqlite3 txn, same rows, WAL+FULL", bare_txns,
              f"BEGIN IMMEDIATE … COMMIT in-process, after {bare_warm} warm-up txns (WAL wrapped)"))
    print(f"  throughput: {tp['tills']} tills on threads (own client, token, shift), 3-line cash sales, {secs:.1f} s")
    if tp_c:
        print(row("  POST /sales/{id}/complete under load", tp_c))
        print(row("  whole sale under load (5 requests)", tp_w))
    print(f"  {'  sales/s, all tills':<46}{sales / secs:>17.1f}   {sales:,} sales (per till {tp['per_till']}), "
          f"errors {len(errors)}; service CPU {(cpu3 - cpu2) / secs * 100:.0f}% of one core")
    for e in sorted(set(errors))[:5]:
        print(f"    error: {e}")
    print(f"  total {time.perf_counter() - run_started:.0f} s; load average now {load_average()} "
          f"(latencies need an otherwise idle machine)")


if __name__ == "__main__":
    main()
