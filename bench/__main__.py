"""`make bench` / `python -m bench`: every benchmark in turn, figures printed, nothing asserted.

Each one also runs alone: `python -m bench.bench_search_index`, `python -m bench.bench_search`,
`python -m bench.bench_cold_start`, `python -m bench.bench_card_sale` (each takes --help).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable

from bench import (
    bench_audit_verify,
    bench_backup,
    bench_card,
    bench_card_sale,
    bench_card_statement,
    bench_checklist,
    bench_cold_start,
    bench_counts,
    bench_devices,
    bench_insurance,
    bench_ledger_report,
    bench_month_end,
    bench_period_close,
    bench_receivables,
    bench_receiving,
    bench_recon,
    bench_search,
    bench_search_index,
    bench_selling,
    bench_till,
    bench_uploads,
)

BENCHMARKS: list[tuple[str, Callable[[list[str] | None], None]]] = [
    ("bench_search_index", bench_search_index.main),
    ("bench_search", bench_search.main),
    ("bench_cold_start", bench_cold_start.main),
    ("bench_selling", bench_selling.main),
    ("bench_card", bench_card.main),
    ("bench_card_sale", bench_card_sale.main),
    ("bench_insurance", bench_insurance.main),
    ("bench_receiving", bench_receiving.main),
    ("bench_counts", bench_counts.main),
    ("bench_ledger_report", bench_ledger_report.main),
    ("bench_period_close", bench_period_close.main),
    ("bench_receivables", bench_receivables.main),
    ("bench_card_statement", bench_card_statement.main),
    ("bench_month_end", bench_month_end.main),  # at --scale 0.1 (DINGDIAN_BENCH_SCALE=1: the full store)
    ("bench_till", bench_till.main),
    ("bench_devices", bench_devices.main),
    ("bench_audit_verify", bench_audit_verify.main),
    ("bench_recon", bench_recon.main),
    ("bench_backup", bench_backup.main),
    ("bench_checklist", bench_checklist.main),
    ("bench_uploads", bench_uploads.main),
]


def main() -> int:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Dingdian POS benchmarks — Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load}")
    print("(latencies are sensitive to other work on the machine: run on an otherwise idle box)")
    started = time.perf_counter()
    failed = []
    for name, run in BENCHMARKS:
        print()
        t0 = time.perf_counter()
        try:
            run([])
        except Exception as exc:  # one broken benchmark should not hide the others' figures
            failed.append(name)
            print(f"!! {name} failed: {type(exc).__name__}: {exc}")
        print(f"({name}: {time.perf_counter() - t0:.0f} s)")
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
