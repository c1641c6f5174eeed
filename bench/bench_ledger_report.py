"""The 进销存 of a generated store, the month's and the year's, each beside a bare SQL aggregate of the same
movements in the same run: `python -m bench.bench_ledger_report [--items 500] [--batches 2000] [--sales 100000]
[--rounds 3] [--pg-url postgresql+psycopg://...]`.

The store is written by bulk insert (Core executemany, nothing checked): items, batches, each batch's first
delivery, a year of sales spread over the batches and days, and now and then a sale return, a further purchase,
a count gain or loss and a damage write-off. The report is reports.ledger.ledger_report with the inspector's checks
(the batch walk, the card check, the count documents); the bare aggregate is one GROUP BY batch, kind over the
rows the report reads (everything up to the period's end). The ratio is the figure; the month's XLSX is timed
too, and its PDF beside it, and the peak memory (Python's, tracemalloc; and the process's maxrss) is printed. SQLite by default; a
PostgreSQL URL runs the same on an empty database there (the bench creates its schema).
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._common import write_config, year_store_arguments
from reports import ledger
from reports.export import pdf, xlsx
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store

KINDS_OCCASIONAL = (("sale_return", 1, 0.02), ("purchase", 1, 0.02), ("count_gain", 1, 0.005),
                    ("count_loss", -1, 0.005), ("damage", -1, 0.005))


def _generate(engine: Any, store_id: int, n_items: int, n_batches: int, n_sales: int, year_end: date,
              seed: int = 20) -> None:
    rnd = random.Random(seed)
    md = sa.MetaData()
    item, batch, movement = (sa.Table(t, md, autoload_with=engine) for t in ("item", "batch", "stock_movement"))
    now = datetime(year_end.year, year_end.month, year_end.day, tzinfo=UTC)
    start = year_end - timedelta(days=364)
    gsp, ins = ("rx", "otc_a", "otc_b", "device"), ("jia", "yi", "bing", "none")
    with engine.begin() as conn:
        conn.execute(sa.insert(item), [
            {"store_id": store_id, "code": f"YP{n:05d}", "name": f"测试药品{n}", "generic_name": f"通用名{n}",
             "spec": "0.1g*24片", "dosage_form": "片剂", "manufacturer": "某制药有限公司",
             "approval_no": f"国药准字H{n:08d}", "gsp_class": gsp[n % 4], "route": "internal", "odour_prone": False,
             "storage": "normal", "nhsa_code": f"XA01{n:08d}", "insurance_category": ins[n % 4],
             "mapping_uploaded_on": None, "price_fen": 500 + n, "unit": "盒", "split_unit": "片", "split_ratio": 24,
             "split_price_fen": 30, "pharm_class": "", "traced": False, "no_code_stock": False, "zone_id": None,
             "mnemonic": "", "active": True, "rev": 0, "created_at": now, "updated_at": now}
            for n in range(n_items)])
        item_ids = [r[0] for r in conn.execute(sa.select(item.c.id).where(item.c.store_id == store_id)
                                               .order_by(item.c.id))]
        conn.execute(sa.insert(batch), [
            {"store_id": store_id, "item_id": item_ids[n % n_items], "supplier_id": None, "batch_no": f"B{n:06d}",
             "lot_no": f"L{n:06d}", "manufactured_on": start - timedelta(days=200),
             "expires_on": year_end + timedelta(days=400 + n % 300), "cost_fen": 240, "zone_id": None,
             "status": "active", "stop_reason": "", "received_at": now} for n in range(n_batches)])
        batches = [(r[0], r[1]) for r in conn.execute(sa.select(batch.c.id, batch.c.item_id)
                                                      .where(batch.c.store_id == store_id).order_by(batch.c.id))]

        def mv(b: tuple[int, int], kind: str, qty: int, day: date, ref: str) -> dict[str, Any]:
            return {"store_id": store_id, "batch_id": b[0], "item_id": b[1], "kind": kind, "qty": qty,
                    "location": "sellable", "at": now, "user_id": None, "ref_type": ref, "ref_id": "0",
                    "corrects_id": None, "note": "", "cost_fen": qty * 10, "retail_fen": qty * 25,
                    "business_date": day}

        per_batch = n_sales // n_batches + 1
        rows = [mv(b, "opening", per_batch * 30, start, "opening") for b in batches]
        for n in range(n_sales):
            b = batches[n % n_batches]
            day = start + timedelta(days=rnd.randrange(365))
            rows.append(mv(b, "sale", -rnd.randint(1, 12), day, "sale_line"))
            for kind, sign, p in KINDS_OCCASIONAL:
                if rnd.random() < p:
                    rows.append(mv(b, kind, sign * rnd.randint(1, 24), day, kind))
            if len(rows) >= 20_000:
                conn.execute(sa.insert(movement), rows)
                rows = []
        if rows:
            conn.execute(sa.insert(movement), rows)


def _bare(engine: Any, store_id: int, end: date) -> int:
    with engine.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT batch_id, kind, SUM(qty), SUM(cost_fen), SUM(retail_fen) FROM stock_movement "
            "WHERE store_id = :s AND business_date <= :e GROUP BY batch_id, kind"), {"s": store_id, "e": end}).all())


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, Any, float]:
    """Median wall ms, the last result, median CPU ms of this process (SQLite's work included; on a shared
    machine the CPU figure is the steadier one)."""
    times, cpu, out = [], [], None
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(times), out, statistics.median(cpu)


def _run(engine: Any, ctx: Ctx, args: argparse.Namespace, label: str) -> None:
    year_end = date(2026, 12, 31)
    t0 = time.perf_counter()
    _generate(engine, ctx.store_id, args.items, args.batches, args.sales, year_end)
    with engine.connect() as conn:
        n_rows = conn.execute(sa.text("SELECT COUNT(*) FROM stock_movement")).scalar()
    print(f"{label}: generated {args.items} items, {args.batches} batches, {n_rows} movements "
          f"({args.sales} sales) in {time.perf_counter() - t0:.1f} s")
    month = ledger.month_of(year_end)
    year = (year_end - timedelta(days=364), year_end)
    for name, (start, end) in (("month", month), ("year", year)):
        bare_ms, groups, bare_cpu = _timed(partial(_bare, engine, ctx.store_id, end), args.rounds)
        report_ms, report, report_cpu = _timed(partial(ledger.ledger_report, engine, ctx.store_id, start, end),
                                               args.rounds)
        # the peak in a run of its own: tracemalloc slows every allocation, so it stays out of the timed runs
        tracemalloc.start()
        ledger.ledger_report(engine, ctx.store_id, start, end)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not report.unbalanced()
        print(f"  {name} {start}..{end}: 进销存 with checks {report_ms:.0f} ms ({len(report.batches)} batch rows, "
              f"{len(report.items)} item rows) beside the bare aggregate {bare_ms:.0f} ms ({groups} groups), same run "
              f"-> ratio {report_ms / bare_ms:.1f}x (median of {args.rounds}); CPU {report_cpu:.0f} ms vs {bare_cpu:.0f} ms "
              f"-> {report_cpu / max(bare_cpu, 1):.1f}x; Python peak {peak / 2**20:.1f} MB")
        if name == "month":
            with tempfile.TemporaryDirectory() as tmp:
                xlsx_ms, _, xlsx_cpu = _timed(partial(xlsx.write, report, Path(tmp) / "m.xlsx"), 1)
                pdf_ms, made, pdf_cpu = _timed(partial(pdf.write, report, Path(tmp) / "m.pdf", "基准药房",
                                                       datetime.now(UTC), UTC), 1)
                pages = len(re.findall(rb"/Type\s*/Page\b", made.read_bytes()))
            print(f"  the month's XLSX: {xlsx_ms:.0f} ms (CPU {xlsx_cpu:.0f} ms); its PDF beside it, same run: "
                  f"{pdf_ms:.0f} ms (CPU {pdf_cpu:.0f} ms, {pages} pages, {pdf.rows(report)} table rows) -> "
                  f"{pdf_ms / max(xlsx_ms, 1):.1f}x the XLSX")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(f"  CPU used by the process so far: {cpu.ru_utime + cpu.ru_stime:.1f} s (the machine is shared: wall times "
          "above include waiting)")
    print(f"  process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    year_store_arguments(parser)
    parser.add_argument("--pg-url", default="", help="also run on this (empty) PostgreSQL database")
    args = parser.parse_args(argv)
    urls = []
    with tempfile.TemporaryDirectory() as tmp:
        urls.append(("SQLite", f"sqlite:///{Path(tmp) / 'ledger.db'}"))
        if args.pg_url:
            urls.append(("PostgreSQL", args.pg_url))
        for label, url in urls:
            settings = load_settings(write_config(Path(tmp), url))
            engine = make_engine(url)
            try:
                upgrade(engine)
                ctx = Ctx(bootstrap_store(engine, settings), settings)
                _run(engine, ctx, args, label)
            finally:
                engine.dispose()


if __name__ == "__main__":
    main()
