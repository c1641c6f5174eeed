"""The period close (月结) on a generated year: `python -m bench.bench_period_close [--items 500] [--batches 2000]
[--sales 100000] [--rounds 3] [--pg-url postgresql+psycopg://...]`.

The store of bench_ledger_report (a year of movements written in bulk), its first eleven months closed one by
one (each close timed: the snapshot of every batch and its audit entry). Then December's 进销存 opened from
November's snapshot beside the same report replayed from the first movement, and beside the bare aggregate of
the movements it reads, in the same run, without the inspector's checks and then with them (their walk of each
batch below zero goes on from the snapshot too). The two reports are asserted equal without the checks (the
bench's rows are written in no date order, so a walk by id from the first movement can differ from one that
starts at the close; in a store the ledger writes by date).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._common import write_config, year_store_arguments
from bench.bench_ledger_report import _generate, _timed
from reports import ledger
from server.audit import Actor
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.uow import core_unit
from server.services.context import Ctx
from server.services.period import close
from server.services.store.profile import bootstrap_store


def _bare_since(engine: Any, store_id: int, after: date, end: date) -> int:
    with engine.connect() as conn:
        return len(conn.execute(sa.text(
            "SELECT batch_id, kind, SUM(qty), SUM(cost_fen), SUM(retail_fen) FROM stock_movement WHERE store_id = :s "
            "AND business_date > :a AND business_date <= :e GROUP BY batch_id, kind"),
            {"s": store_id, "a": after, "e": end}).all())


def _run(engine: Any, ctx: Ctx, args: argparse.Namespace, label: str) -> None:
    year_end = date(2026, 12, 31)
    _generate(engine, ctx.store_id, args.items, args.batches, args.sales, year_end)
    with engine.connect() as conn:
        n_rows = conn.execute(sa.text("SELECT COUNT(*) FROM stock_movement")).scalar()
    print(f"{label}: {args.items} items, {args.batches} batches, {n_rows} movements")
    manager = Ctx(ctx.store_id, ctx.settings, Actor(None, "bench"), datetime(2027, 1, 5, 2, tzinfo=UTC))
    took, cpu = [], []
    for month in range(1, 12):
        t0, c0 = time.perf_counter(), time.process_time()
        with core_unit(engine) as u:
            close.close_month(u, manager, f"2026-{month:02d}")
        took.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(f"  11 closes: {sum(took) / len(took):.0f} ms each on average (max {max(took):.0f} ms; CPU "
          f"{sum(cpu) / len(cpu):.0f} ms), {args.batches} batch snapshots each, imaged in the audit log")
    start, end = ledger.month_of(year_end)
    nov = date(2026, 11, 30)
    snap_ms, from_snap, snap_cpu = _timed(partial(ledger.ledger_report, engine, ctx.store_id, start, end,
                                                  checks=False), args.rounds)
    replay_ms, replayed, replay_cpu = _timed(partial(ledger.ledger_report, engine, ctx.store_id, start, end,
                                                     checks=False, from_snapshot=False), args.rounds)
    bare_ms, groups, _ = _timed(partial(_bare_since, engine, ctx.store_id, nov, end), args.rounds)
    assert ledger.as_dict(from_snap) == ledger.as_dict(replayed), "the snapshot's report differs from the replay"
    print(f"  December's 进销存 from November's snapshot {snap_ms:.0f} ms (CPU {snap_cpu:.0f}) beside the same report "
          f"replayed from the start {replay_ms:.0f} ms (CPU {replay_cpu:.0f}), same run -> {replay_ms / snap_ms:.1f}x "
          f"faster; bare aggregate of the month's movements {bare_ms:.0f} ms ({groups} groups) -> ratio "
          f"{snap_ms / bare_ms:.1f}x (median of {args.rounds}); reports equal")
    # with the inspector's checks: the walk below zero goes on from the snapshot too
    checked_ms, checked, checked_cpu = _timed(partial(ledger.ledger_report, engine, ctx.store_id, start, end),
                                              args.rounds)
    walked_ms, walked, walked_cpu = _timed(partial(ledger.ledger_report, engine, ctx.store_id, start, end,
                                                   from_snapshot=False), args.rounds)
    print(f"  with the inspector's checks: from the snapshot {checked_ms:.0f} ms (CPU {checked_cpu:.0f}) beside "
          f"replayed {walked_ms:.0f} ms (CPU {walked_cpu:.0f}), same run -> {walked_ms / checked_ms:.1f}x; "
          f"{len(checked.checks.shortfalls)} vs {len(walked.checks.shortfalls)} shortfalls")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    year_store_arguments(parser)
    parser.add_argument("--pg-url", default="", help="also run on this (empty) PostgreSQL database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{Path(tmp) / 'close.db'}")] + ([("PostgreSQL", args.pg_url)]
                                                                      if args.pg_url else [])
        for label, url in urls:
            settings = load_settings(write_config(Path(tmp), url))
            engine = make_engine(url)
            try:
                upgrade(engine)
                _run(engine, Ctx(bootstrap_store(engine, settings), settings), args, label)
            finally:
                engine.dispose()


if __name__ == "__main__":
    main()
