"""The whole compliance checklist (issue #22) for a month and for a year on the generated year of bench_ledger_report:
`python -m bench.bench_checklist [--items 500] [--batches 2000] [--sales 100000] [--rounds 3]`.

The store is bench_ledger_report's year (SQLite), audit-chained after its bulk insert (bench._audited), so the
checklist's audit check reads a chain as long as the rows it verifies and finds it whole. Timed: the use case the
manager runs (server.services.compliance.checklist.run: `audit verify` over the store's whole chain, the facts of the
period read in one snapshot, all 26 items judged, the run recorded), for December and for the year. Beside it, in
the same run: `audit verify` alone (the part that does not shrink with the period) and the floor of reading the
period's stock movements once (a plain SELECT, rows fetched). Targets: month < 2 s, year < 10 s. Figures printed,
nothing asserted.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import _audited
from bench._common import write_config, year_store_arguments
from bench.bench_ledger_report import _generate, _timed
from server import audit
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.db.uow import read_session
from server.services.compliance import checklist
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store

YEAR_END = date(2026, 12, 31)


def _floor(engine: Any, store_id: int, first: date, last: date) -> int:
    with engine.connect() as conn:
        return len(conn.execute(sa.text("SELECT * FROM stock_movement WHERE store_id = :s AND business_date BETWEEN "
                                        ":f AND :l"), {"s": store_id, "f": first, "l": last}).all())


def _verify(engine: Any, store_id: int) -> int:
    with read_session(engine) as s:
        report = audit.verify(s, store_id)
    assert report.ok, report.problems[:3]
    return report.entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    year_store_arguments(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'year.db'}"
        settings = load_settings(write_config(Path(tmp), url))
        engine = make_engine(url)
        try:
            upgrade(engine)
            store_id = bootstrap_store(engine, settings)
            _generate(engine, store_id, args.items, args.batches, args.sales, YEAR_END)
            entries, chained_s = _audited.chain(engine, store_id)
            print(f"SQLite: {args.items} items, {args.batches} batches, {args.sales} sales, audit-chained after "
                  f"generation ({entries} entries in {chained_s:.1f} s, not timed)")
            ctx = Ctx(store_id, settings, now=datetime(2027, 1, 1, 2, tzinfo=UTC))
            verify_ms, chain_len, verify_cpu = _timed(partial(_verify, engine, store_id), args.rounds)
            for name, first, target in (("month", YEAR_END.replace(day=1), 2000),
                                        ("year", YEAR_END - timedelta(days=364), 10_000)):
                floor_ms, rows, floor_cpu = _timed(partial(_floor, engine, store_id, first, YEAR_END), args.rounds)
                run_ms, done, run_cpu = _timed(partial(checklist.run, engine, ctx, first, YEAR_END), args.rounds)
                verdicts = [f.verdict.value for f in done.checklist.findings]
                print(f"  {name} {first}..{YEAR_END}: the whole checklist {run_ms:.0f} ms (CPU {run_cpu:.0f}; target "
                      f"< {target} ms; {len(verdicts)} items, {verdicts.count('fail')} failed on this generated store) "
                      f"beside, same run: audit verify alone {verify_ms:.0f} ms (CPU {verify_cpu:.0f}; {chain_len} "
                      f"entries) and reading the period's {rows} movements {floor_ms:.0f} ms (CPU {floor_cpu:.0f}) "
                      f"(median of {args.rounds})")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
