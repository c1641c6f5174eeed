"""The month end at the issue's scale (#20): `python -m bench.bench_month_end [--scale 0.1] [--pg | --pg-url URL]
[--rounds 1] [--skip-reports] [--skip-scan]`.

A generated store of 5,000 items, 20,000 batches and one year of 1,000,000 sale lines (sales of one to three
lines), a card settlement on 40 % of the sales (the centre's answer as stored, 1 % of them cancelled by a 2103),
quarterly purchases of every batch, sale returns, count gains and losses and damage write-offs, all multiplied by
`--scale` (or DINGDIAN_BENCH_SCALE). `make bench` runs it at 0.1 (100,000 lines, a few minutes); the issue's
full scale, `--scale 1`, is opt-in: at load ~8 on the 2 cores its generation took 13 min (187 s CPU) on SQLite and
12 min (124 s CPU) on PostgreSQL, and the reports ~10 min more on each (two processes side by side:
`--skip-scan` and `--pg --skip-sqlite --skip-scan`). Every sale line has its
sale movement (ref sale_line), so the inspector's card check reads the same store the statement does. Written by
bulk insert (Core executemany, nothing checked), on SQLite and, with --pg (a private cluster, as the tests start
one) or --pg-url (an empty database), on PostgreSQL.

  reports  December's 进销存 (with the inspector's checks) + the card-purchase statement, then the whole year's,
           each beside the bare SQL aggregates of the same movements and settlements (GROUP BY batch, kind / group)
           in the same run: CPU and wall, the ratio, the Python peak (tracemalloc) and the process's peak RSS;
           December's 进销存 XLSX. Targets: month < 1 s, year < 5 s, peak < 300 MB, XLSX < 3 s.
  scan     (SQLite) the same year written into a store built through the use cases (bench._service), served by
           `dingdian serve`: a till's scans idle, then while a manager asks the service for the year's card
           statement and 进销存; p50/p99 beside each other. Target: within 2x idle.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from bench._common import free_port, p50_p99, running, serve_command, write_config
from bench.bench_card_statement import card_rows
from bench.bench_ledger_report import _generate as _items_and_batches
from reports import card_statement, ledger
from server.audit import Actor
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.uow import core_unit
from server.roles import Role
from server.services.context import Ctx
from server.services.store import shifts
from server.services.store.profile import bootstrap_store, register_till
from server.services.store.users import add_user

TZ = ZoneInfo("Asia/Shanghai")
YEAR_END = date(2026, 12, 31)
FULL = {"items": 5_000, "batches": 20_000, "lines": 1_000_000}
CARD_SHARE = 0.4
TARGET_MONTH_S, TARGET_YEAR_S, TARGET_PEAK_MB, TARGET_XLSX_S, TARGET_SCAN_RATIO = 1.0, 5.0, 300, 3.0, 2.0
OCCASIONAL = (("sale_return", 1, 0.01), ("count_gain", 1, 0.002), ("count_loss", -1, 0.002), ("damage", -1, 0.002))
FLUSH = 20_000


def sizes(scale: float) -> dict[str, int]:
    return {k: max(20, round(v * scale)) for k, v in FULL.items()}


def generate(engine: Any, ctx: Ctx, scale: float, seed: int = 14, till: str = "TG") -> dict[str, int]:
    """The year's store, bulk-inserted; the counts of what was written."""
    n = sizes(scale)
    rnd = random.Random(seed)
    start = YEAR_END - timedelta(days=364)
    # items (four GSP classes, four 医保 categories), batches, each batch's opening stock (bench_ledger_report's)
    _items_and_batches(engine, ctx.store_id, n["items"], n["batches"], 0, YEAR_END)
    with core_unit(engine) as u:
        user = add_user(u, ctx, "bench_gen", "压测", "1234", {Role.CASHIER})
        register_till(u, ctx, till, "压测台", "")
        shift = shifts.open_shift(u, ctx.acting(Actor(user.id, "bench_gen")), till, 0)
    md = sa.MetaData()
    item, batch, sale, line, insured, setl, msg, movement = (sa.Table(t, md, autoload_with=engine) for t in (
        "item", "batch", "sale", "sale_line", "sale_insured", "card_settlement", "insurance_message", "stock_movement"))
    with engine.connect() as conn:
        items = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            sa.select(item.c.id, item.c.price_fen, item.c.insurance_category, item.c.nhsa_code)
            .where(item.c.store_id == ctx.store_id))}
        batches = [(r[0], r[1]) for r in conn.execute(sa.select(batch.c.id, batch.c.item_id)
                                                      .where(batch.c.store_id == ctx.store_id).order_by(batch.c.id))]
        line_id = conn.execute(sa.select(sa.func.coalesce(sa.func.max(line.c.id), 0))).scalar_one()
    at = datetime(YEAR_END.year, YEAR_END.month, YEAR_END.day, tzinfo=UTC)

    def mv(b: tuple[int, int], kind: str, qty: int, day: date, ref_type: str, ref_id: str, price: int) -> dict[str, Any]:
        return {"store_id": ctx.store_id, "batch_id": b[0], "item_id": b[1], "kind": kind, "qty": qty,
                "location": "sellable", "at": at, "user_id": None, "ref_type": ref_type, "ref_id": ref_id,
                "corrects_id": None, "note": "", "cost_fen": qty * 240, "retail_fen": qty * price,
                "business_date": day}

    buf: dict[str, list[dict[str, Any]]] = {k: [] for k in ("sale", "line", "insured", "setl", "msg", "mv")}
    tables = {"sale": sale, "line": line, "insured": insured, "setl": setl, "msg": msg, "mv": movement}

    def flush() -> None:  # a transaction per batch of rows: SQLite's WAL is checkpointed as it goes
        with engine.begin() as conn:
            for key in ("sale", "line", "insured", "setl", "msg", "mv"):  # the sale before its lines and settlement
                if buf[key]:
                    conn.execute(sa.insert(tables[key]), buf[key])
                    buf[key] = []

    counts = dict.fromkeys(("sales", "lines", "settlements", "movements"), 0)
    per_day: dict[date, int] = {}
    # a delivery of every batch each quarter, so a year's sales never take a batch below zero
    for q in range(4):
        day = start + timedelta(days=91 * q)
        for b in batches:
            buf["mv"].append(mv(b, "purchase", 120, day, "purchase", f"Q{q}", items[b[1]][0]))
        counts["movements"] += len(batches)
        if len(buf["mv"]) >= FLUSH:
            flush()
    s = 0
    while counts["lines"] < n["lines"]:
        day = start + timedelta(days=rnd.randrange(365))
        when = datetime(day.year, day.month, day.day, 1 + rnd.randrange(13), rnd.randrange(60),
                        rnd.randrange(60), tzinfo=UTC)
        per_day[day] = per_day.get(day, 0) + 1
        sid = str(uuid.UUID(int=rnd.getrandbits(128)))
        lines = []
        for k in range(min(rnd.randint(1, 3), n["lines"] - counts["lines"])):
            line_id += 1
            b = batches[rnd.randrange(len(batches))]
            price, category, nhsa = items[b[1]]
            qty = rnd.randint(1, 3)
            lines.append({"id": line_id, "store_id": ctx.store_id, "sale_id": sid, "line_no": k + 1,
                          "item_id": b[1], "split": False, "qty": qty, "unit_price_fen": price,
                          "amount_fen": qty * price, "added_at": when, "insurance_category": category,
                          "nhsa_code": nhsa})
            buf["mv"].append(mv(b, "sale", -qty, day, "sale_line", str(line_id), price))
            for kind, sign, p in OCCASIONAL:
                if rnd.random() < p:
                    buf["mv"].append(mv(b, kind, sign * rnd.randint(1, 2), day, kind, str(line_id), price))
        counts["lines"] += len(lines)
        buf["sale"].append({"id": sid, "store_id": ctx.store_id, "till_id": shift.till_id, "shift_id": shift.id,
                            "status": "completed", "opened_by": user.id, "opened_at": when,
                            "total_fen": sum(ln["amount_fen"] for ln in lines), "change_fen": 0,
                            "void_reason": "", "business_date": day, "day_no": per_day[day],
                            "sale_no": f"{day:%Y%m%d}-{per_day[day]:05d}", "completed_by": user.id,
                            "completed_at": when})
        buf["line"] += lines
        if rnd.random() < CARD_SHARE:
            insured_row, setl_row, msg_row = card_rows(rnd, s, ctx.store_id, sid, when, lines, user.id)
            buf["insured"].append(insured_row)
            buf["setl"].append(setl_row)
            counts["settlements"] += 1
            if msg_row is not None:
                buf["msg"].append(msg_row)
        s += 1
        if len(buf["mv"]) >= FLUSH:
            counts["movements"] += len(buf["mv"])
            flush()
    counts["movements"] += len(buf["mv"])
    flush()
    counts["sales"] = s
    return counts


def _bare(engine: Any, store_id: int, end: date, lo: datetime, hi: datetime) -> int:
    """The bare aggregates of what the two reports read: the movements per batch and kind up to the period's end,
    and the settlements of the window per clearing group."""
    with engine.connect() as conn:
        moved = conn.execute(sa.text(
            "SELECT batch_id, kind, SUM(qty), SUM(cost_fen), SUM(retail_fen) FROM stock_movement "
            "WHERE store_id = :s AND business_date <= :e GROUP BY batch_id, kind"), {"s": store_id, "e": end}).all()
        settled = conn.execute(sa.text(
            "SELECT i.insutype, i.insuplc_admdvs, COUNT(*), SUM(s.medfee_sumamt_fen), SUM(s.fund_pay_fen), "
            "SUM(s.acct_pay_fen), SUM(s.cash_pay_fen) FROM card_settlement s JOIN sale_insured i ON i.sale_id = "
            "s.sale_id WHERE s.store_id = :s AND s.status IN ('settled', 'cancelled') AND s.resolved_at >= :lo "
            "AND s.resolved_at < :hi GROUP BY i.insutype, i.insuplc_admdvs"),
            {"s": store_id, "lo": lo, "hi": hi}).all()
    return len(moved) + len(settled)


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of this process (SQLite's work included; PostgreSQL's server is not), the last
    result."""
    wall, cpu, out = [], [], None
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def _both(engine: Any, store_id: int, start: date, end: date) -> tuple[ledger.LedgerReport, card_statement.CardStatement]:
    return (ledger.ledger_report(engine, store_id, start, end),
            card_statement.card_statement(engine, store_id, start, end, TZ, "440300"))


def reports(engine: Any, ctx: Ctx, label: str, rounds: int) -> None:
    month, year = ledger.month_of(YEAR_END), (YEAR_END - timedelta(days=364), YEAR_END)
    for name, (start, end), target in (("month", month, TARGET_MONTH_S), ("year", year, TARGET_YEAR_S)):
        lo, hi = card_statement.window(start, end, TZ)
        bare_wall, bare_cpu, groups = _timed(partial(_bare, engine, ctx.store_id, end, lo, hi), rounds)
        led_wall, led_cpu, report = _timed(partial(ledger.ledger_report, engine, ctx.store_id, start, end), rounds)
        st_wall, st_cpu, st = _timed(partial(card_statement.card_statement, engine, ctx.store_id, start, end, TZ,
                                             "440300"), rounds)
        tracemalloc.start()  # its own run: tracemalloc slows every allocation, so it stays out of the timed ones
        _both(engine, ctx.store_id, start, end)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not report.unbalanced() and not st.problems()
        wall, cpu = led_wall + st_wall, led_cpu + st_cpu
        print(f"  {name} {start}..{end}: 进销存 + card statement CPU {cpu:.2f} s (进销存 {led_cpu:.2f} + statement "
              f"{st_cpu:.2f}; wall {wall:.2f} s) beside the bare aggregates CPU {bare_cpu:.2f} s (wall "
              f"{bare_wall:.2f} s, {groups} groups), same run -> ratio CPU {cpu / max(bare_cpu, 1e-3):.1f}x, wall "
              f"{wall / max(bare_wall, 1e-3):.1f}x; target < {target:.0f} s: {'met' if cpu < target else 'MISSED'} "
              f"(CPU); {len(report.batches)} batch rows, {len(st.rows)} statement rows; Python peak "
              f"{peak / 2**20:.0f} MB (target < {TARGET_PEAK_MB} MB)")
        if name == "month":
            from reports.export import xlsx

            with tempfile.TemporaryDirectory() as tmp:
                x_wall, x_cpu, _ = _timed(partial(xlsx.write, report, Path(tmp) / "m.xlsx"), 1)
            print(f"  the month's 进销存 XLSX: CPU {x_cpu:.2f} s (wall {x_wall:.2f} s) beside the month's report CPU "
                  f"{led_cpu:.2f} s, same run; target < {TARGET_XLSX_S:.0f} s: "
                  f"{'met' if x_cpu < TARGET_XLSX_S else 'MISSED'}")
    print(f"  process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (the generator's "
          f"buffers included)")


def _store(url: str, directory: Path, label: str, scale: float, rounds: int) -> None:
    settings = load_settings(write_config(directory, url))
    engine = make_engine(url)
    try:
        upgrade(engine)
        ctx = Ctx(bootstrap_store(engine, settings), settings)
        t0, c0 = time.perf_counter(), time.process_time()
        counts = generate(engine, ctx, scale)
        print(f"{label}: generated {sizes(scale)['items']} items, {sizes(scale)['batches']} batches, "
              f"{counts['sales']} sales of {counts['lines']} lines, {counts['settlements']} card settlements, "
              f"{counts['movements']} movements in {time.perf_counter() - t0:.0f} s (CPU "
              f"{time.process_time() - c0:.0f} s)")
        reports(engine, ctx, label, rounds)
    finally:
        engine.dispose()


# --- a scan while the year's report runs ---------------------------------------------------------------------

def scan_during_report(directory: Path, scale: float, scans: int) -> None:
    from bench._service import CASHIER_PIN, build_store
    from bench.bench_selling import Till

    store = build_store(directory, tills=1)
    settings = load_settings(store.config)
    engine = make_engine(store.db_url)
    try:
        ctx = Ctx(bootstrap_store(engine, settings), settings)
        with core_unit(engine) as u:
            add_user(u, ctx, "bench_mg", "店长", CASHIER_PIN, {Role.MANAGER})
        counts = generate(engine, ctx, scale)
    finally:
        engine.dispose()
    port = free_port()
    with running(serve_command(store.config, port), port, "/health", directory / "service.log"):
        till = Till(port, store.cashiers[0], store.pin, store.tills[0])
        manager = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        r = manager.post("/auth/login", json={"username": "bench_mg", "pin": CASHIER_PIN})
        r.raise_for_status()
        manager.headers["Authorization"] = f"Bearer {r.json()['token']}"
        year = {"from": (YEAR_END - timedelta(days=364)).isoformat(), "to": YEAR_END.isoformat()}

        def scan_many(count: int, stop: threading.Event | None = None) -> list[float]:
            out: list[float] = []
            sale = till.open_sale()
            while len(out) < count or (stop is not None and not stop.is_set()):
                if len(out) % 40 == 39:
                    sale = till.open_sale()
                t = time.perf_counter()
                till.scan(sale, store.barcodes[len(out) % 5])
                out.append((time.perf_counter() - t) * 1000)
                time.sleep(0.02)  # a cashier's pace
            return out

        scan_many(20)  # warm
        idle = scan_many(scans)
        done = threading.Event()
        took: list[tuple[str, float, int]] = []

        def ask() -> None:
            try:
                for path in ("/reports/card-statement", "/reports/ledger"):
                    t = time.perf_counter()
                    resp = manager.get(path, params=year)
                    took.append((path, time.perf_counter() - t, resp.status_code))
            finally:
                done.set()

        asker = threading.Thread(target=ask)
        asker.start()
        during = scan_many(0, done)
        asker.join()
        i50, i99 = p50_p99(idle)
        d50, d99 = p50_p99(during)
        print(f"scan while the year's reports run (SQLite, {counts['lines']} sale lines, {counts['settlements']} "
              f"settlements), through `dingdian serve`:")
        for path, seconds, status in took:
            print(f"  GET {path} (the year) answered {status} in {seconds:.1f} s wall")
        print(f"  scan idle            p50 {i50:.1f} ms  p99 {i99:.1f} ms  ({len(idle)} scans)")
        print(f"  scan during reports  p50 {d50:.1f} ms  p99 {d99:.1f} ms  ({len(during)} scans), same run -> "
              f"p50 {d50 / i50:.2f}x, p99 {d99 / i99:.2f}x idle (target within {TARGET_SCAN_RATIO:.0f}x: "
              f"{'met' if d50 / i50 <= TARGET_SCAN_RATIO and d99 / i99 <= TARGET_SCAN_RATIO else 'MISSED'})")
        till.close()
        manager.close()


def _pg_database(cluster_url: str, name: str) -> str:
    admin = sa.create_engine(cluster_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return cluster_url.rsplit("/", 1)[0] + f"/{name}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("DINGDIAN_BENCH_SCALE", "0.1")),
                        help="of the issue's store (1 = 5,000 items, 20,000 batches, 1,000,000 sale lines)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL: a private cluster started here")
    parser.add_argument("--pg-url", default="", help="also on this (empty) PostgreSQL database")
    parser.add_argument("--scans", type=int, default=150, help="idle scans (and at least as many during)")
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true", help="the reports on PostgreSQL only")
    parser.add_argument("--skip-scan", action="store_true")
    args = parser.parse_args(argv)
    print(f"bench_month_end at scale {args.scale} ({sizes(args.scale)})")
    with tempfile.TemporaryDirectory(prefix="bench-month-") as tmp:
        if not args.skip_reports and not args.skip_sqlite:
            _store(f"sqlite:///{Path(tmp) / 'month.db'}", Path(tmp), "SQLite", args.scale, args.rounds)
        if not args.skip_reports:
            if args.pg_url:
                _store(args.pg_url, Path(tmp), "PostgreSQL", args.scale, args.rounds)
            elif args.pg:
                from tests.pg import start_cluster  # the tests' private cluster: loopback, its own data directory

                cluster = start_cluster()
                try:
                    _store(_pg_database(cluster.admin_url, "bench_month"), Path(tmp), "PostgreSQL", args.scale,
                           args.rounds)
                finally:
                    cluster.stop()
        if not args.skip_scan:
            scan_dir = Path(tmp) / "scan"
            scan_dir.mkdir()
            scan_during_report(scan_dir, args.scale, args.scans)


if __name__ == "__main__":
    main()
