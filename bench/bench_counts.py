"""Posting a 5,000-line count (盘点), beside a bare insert of the same rows in the same run:
`python -m bench.bench_counts [--lines 5000] [--rounds 3]`.

A store with 5,000 batches on the shelf (its first inventory, through the use cases) is counted whole: the sheet
made at a snapshot, every batch counted (half one more than the book, half one fewer), submitted by the
pharmacist and posted by the manager (server.services.stock.counts), each in its own unit of work on a fresh
SQLite file. The figure is the posting: 5,000 盘盈/盘亏 movements at cost through the ledger's one door, the
balances moved, the sheet audited. The bare insert writes what the posting leaves behind — the movements and the
balances' new quantity and cost — with Core executemany in one transaction and nothing checked.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._stock_store import otc_store
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.services.context import Ctx
from server.services.stock import counts, receiving

LOTS = 50  # lots per item: 5,000 lines are 100 items × 50 lots


def _store(directory: Path, n_lines: int) -> tuple[Any, Ctx, Ctx]:
    engine, ctx, as_ph, as_mg, items = otc_store(directory, "counts", n_lines // LOTS, "盘点药师")
    lines = [receiving.LineIn(item, f"L{n:05d}", ctx.today - timedelta(days=30), ctx.today + timedelta(days=700),
                              10, 240, "Z-OTC") for n, item in enumerate(i for i in items for _ in range(LOTS))]
    with core_unit(engine) as u:  # the first inventory: counted by the pharmacist, approved by the manager
        rid = id_of(receiving.create(u, as_ph, receiving.OPENING, None, "", "", lines))
    with core_unit(engine) as u:
        receiving.approve(u, as_mg, rid)
    return engine, as_ph, as_mg


def _count(engine: Any, ph: Ctx, mg: Ctx, round_no: int) -> tuple[float, float, float]:
    """(make the sheet and count it, submit, post) in ms."""
    t0 = time.perf_counter()
    with core_unit(engine) as u:
        sheet_id = id_of(counts.create_sheet(u, ph, None, note=f"round {round_no}"))
    with read_session(engine) as s:
        book = [(ln.batch_id, ln.book_qty) for ln in counts.lines_of(s, sheet_id)]
    entries = [counts.Entry(batch_id=b, loose=q + (1 if k % 2 else -1), reason="盘点差异")
               for k, (b, q) in enumerate(book)]
    with core_unit(engine) as u:
        counts.enter(u, ph, sheet_id, entries)
    t1 = time.perf_counter()
    with core_unit(engine) as u:
        counts.submit(u, ph, sheet_id)
    t2 = time.perf_counter()
    with core_unit(engine) as u:
        counts.post(u, mg, sheet_id)
    t3 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000


def _bare(engine: Any, ctx: Ctx, round_no: int) -> float:
    """The same rows the posting writes, as plainly as the database takes them: a movement per batch and its
    balance's new quantity and cost, no rule, no audit, no ledger door."""
    md = sa.MetaData()
    movement, balance = (sa.Table(t, md, autoload_with=engine) for t in ("stock_movement", "batch_balance"))
    with engine.connect() as conn:
        held = conn.execute(sa.select(balance.c.batch_id, balance.c.item_id, balance.c.qty, balance.c.cost_fen)
                            .order_by(balance.c.batch_id)).all()
    t0 = time.perf_counter()
    with engine.begin() as conn:
        rows = []
        for k, (b, i, q, c) in enumerate(held):
            d = 1 if k % 2 else -1
            cost = (2 * c + q) // (2 * q) * d
            rows.append({"store_id": ctx.store_id, "batch_id": b, "item_id": i, "kind": "count_gain" if d > 0 else
                         "count_loss", "qty": d, "location": "sellable", "at": ctx.now, "ref_type": "count_line",
                         "ref_id": str(round_no), "note": "盘点差异", "cost_fen": cost, "retail_fen": 21 * d,
                         "business_date": ctx.today, "b": b, "d": d, "c": cost})
        conn.execute(sa.insert(movement), [{k: v for k, v in r.items() if k not in ("b", "d", "c")} for r in rows])
        conn.execute(sa.update(balance).where(balance.c.batch_id == sa.bindparam("b"), balance.c.location == "sellable")
                     .values(qty=balance.c.qty + sa.bindparam("d"), cost_fen=balance.c.cost_fen + sa.bindparam("c")),
                     [{"b": r["b"], "d": r["d"], "c": r["c"]} for r in rows])
    return (time.perf_counter() - t0) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        engine, ph, mg = _store(Path(tmp), args.lines)
        try:
            service, bare = [], []
            for r in range(args.rounds):  # alternated, so both see the same machine and the same table sizes
                service.append(_count(engine, ph, mg, r))
                bare.append(_bare(engine, ph, r))
        finally:
            engine.dispose()
    counted, submitted, posted = (statistics.median(x[k] for x in service) for k in range(3))
    plain = statistics.median(bare)
    print(f"a {args.lines}-line count (SQLite, median of {args.rounds}): sheet made and counted {counted:.1f} ms, "
          f"submitted {submitted:.1f} ms, posted {posted:.1f} ms")
    print(f"  bare insert of the posting's rows (movements, balances), same run: {plain:.1f} ms"
          f"  -> posting {posted / plain:.1f}x")


if __name__ == "__main__":
    main()
