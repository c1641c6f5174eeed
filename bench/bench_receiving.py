"""Receiving a 200-line delivery and approving it (GSP-05), beside a bare insert of the same rows in the same run:
`python -m bench.bench_receiving [--lines 200] [--rounds 5]`.

The delivery goes through the use cases a store's pharmacist and manager call (server.services.stock.receiving:
enter, inspect, approve), each in its own unit of work on a fresh SQLite file; the bare insert writes what they
leave behind — the receipt, its lines, a batch, a movement and a balance per line — with Core executemany in one
transaction and nothing checked. The ratio is the figure: what the rules, the audit chain and the ledger cost.
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
from server.db.uow import core_unit
from server.services.context import Ctx
from server.services.stock import receiving, suppliers


def _store(directory: Path, n_items: int) -> tuple[Any, Ctx, Ctx, Ctx, int, list[int]]:
    engine, ctx, as_ph, as_mg, items = otc_store(directory, "receiving", n_items, "验收药师")
    with core_unit(engine) as u:
        sup = suppliers.add_supplier(u, ctx, "国药控股", "京AA0000001", ctx.today + timedelta(days=365),
                                     scope=["drugs"])
        suppliers.approve_supplier(u, ctx, id_of(sup))
        for item in items:
            suppliers.approve_item(u, ctx, id_of(sup), item)
        sid = id_of(sup)
    return engine, ctx, as_ph, as_mg, sid, items


def _lines(ctx: Ctx, items: list[int], round_no: int) -> list[receiving.LineIn]:
    return [receiving.LineIn(item, f"L{round_no:02d}{n:04d}", ctx.today - timedelta(days=30),
                             ctx.today + timedelta(days=700), 10, 240, "Z-OTC") for n, item in enumerate(items)]


def _receive(engine: Any, ph: Ctx, mg: Ctx, supplier: int, lines: list[receiving.LineIn],
             round_no: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    with core_unit(engine) as u:
        rid = id_of(receiving.create(u, ph, receiving.PURCHASE, supplier, f"SH-{round_no}", f"FP-{round_no}", lines))
    t1 = time.perf_counter()
    with core_unit(engine) as u:
        receiving.inspect(u, ph, rid, [receiving.Verdict(n, "accepted") for n in range(1, len(lines) + 1)])
    t2 = time.perf_counter()
    with core_unit(engine) as u:
        receiving.approve(u, mg, rid)
    t3 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000


def _bare(engine: Any, ctx: Ctx, supplier: int, items: list[int], round_no: int) -> float:
    """The same rows, written as plainly as the database takes them: no rule, no audit, no ledger door."""
    md = sa.MetaData()
    receipt, line, batch, movement, balance = (sa.Table(t, md, autoload_with=engine) for t in (
        "receipt", "receipt_line", "batch", "stock_movement", "batch_balance"))
    zone = 1
    t0 = time.perf_counter()
    with engine.begin() as conn:
        rid = conn.execute(sa.insert(receipt).values(
            store_id=ctx.store_id, kind="purchase", supplier_id=supplier, dynt_no=f"B-{round_no}", purc_invo_no="",
            business_date=ctx.today, status="approved", note="", created_at=ctx.now)).inserted_primary_key[0]
        conn.execute(sa.insert(line), [
            {"store_id": ctx.store_id, "receipt_id": rid, "line_no": n, "item_id": item, "lot_no": f"BL{n}",
             "manufactured_on": ctx.today - timedelta(days=30), "expires_on": ctx.today + timedelta(days=700),
             "qty": 10, "loose": 0, "unit_cost_fen": 240, "zone_id": zone, "outcome": "accepted", "reason": ""}
            for n, item in enumerate(items, start=1)])
        conn.execute(sa.insert(batch), [
            {"store_id": ctx.store_id, "item_id": item, "supplier_id": supplier, "batch_no": f"BARE{round_no}-{n}",
             "lot_no": f"BL{n}", "manufactured_on": ctx.today - timedelta(days=30),
             "expires_on": ctx.today + timedelta(days=700), "cost_fen": 240, "zone_id": zone, "status": "active",
             "stop_reason": "", "received_at": ctx.now} for n, item in enumerate(items, start=1)])
        ids = conn.execute(sa.select(batch.c.id, batch.c.item_id).where(batch.c.batch_no.like(f"BARE{round_no}-%"))
                           ).all()
        conn.execute(sa.insert(movement), [
            {"store_id": ctx.store_id, "batch_id": b, "item_id": i, "kind": "purchase", "qty": 240,
             "location": "sellable", "at": ctx.now, "ref_type": "receipt_line", "ref_id": "0", "note": "",
             "cost_fen": 2400, "retail_fen": 5000, "business_date": ctx.today} for b, i in ids])
        conn.execute(sa.insert(balance), [
            {"batch_id": b, "location": "sellable", "store_id": ctx.store_id, "item_id": i, "qty": 240,
             "cost_fen": 2400} for b, i in ids])
    return (time.perf_counter() - t0) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        engine, ctx, ph, mg, supplier, items = _store(Path(tmp), args.lines)
        try:
            service, bare = [], []
            for r in range(args.rounds):  # alternated, so both see the same machine and the same table sizes
                service.append(_receive(engine, ph, mg, supplier, _lines(ctx, items, r), r))
                bare.append(_bare(engine, ctx, supplier, items, r))
        finally:
            engine.dispose()
    enter, inspect, approve = (statistics.median(x[k] for x in service) for k in range(3))
    total = statistics.median(sum(x) for x in service)
    plain = statistics.median(bare)
    print(f"receiving a {args.lines}-line delivery (SQLite, median of {args.rounds}): enter {enter:.1f} ms, "
          f"inspect {inspect:.1f} ms, approve {approve:.1f} ms, total {total:.1f} ms")
    print(f"  bare insert of the same rows (receipt, lines, batches, movements, balances), same run: {plain:.1f} ms"
          f"  -> ratio {total / plain:.1f}x")


if __name__ == "__main__":
    main()
