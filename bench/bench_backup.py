"""Backups and verified restores, clear and sealed (SEC-05): `python -m bench.bench_backup [--items 500]
[--batches 2000] [--sales 100000] [--rounds 3]`.

The generated year of bench_ledger_report on SQLite, its bulk rows audit-chained after generation (bench._audited:
one entry per row through audit.record, so the restore's verification passes — without it every bulk row is named
"written behind the service's back" and the restore refuses the store). In the same run: the bare copies (a file
copy; SQLite's online backup API, what `sqlite3 .backup` does) beside `take` writing the backup in the clear and
sealed with AES-256-GCM (server.backup.sealed), then the restore of each, verified (schema head, row counts, audit
chain, balances), beside the same bare copies. Target (issue #22): backup + verified restore of the year < 30 s.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench import _audited
from bench._common import write_config, year_store_arguments
from bench.bench_ledger_report import _generate, _timed
from server.backup import sealed
from server.backup.restore import restore
from server.backup.take import take
from server.config import load_settings
from server.db.engine import make_engine
from server.db.migrate import upgrade
from server.services.store.profile import bootstrap_store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    year_store_arguments(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name, tempfile.TemporaryDirectory(dir="/dev/shm") as out_name:
        tmp, out = Path(tmp_name), Path(out_name)
        db = tmp / "year.db"
        url = f"sqlite:///{db}"
        settings = load_settings(write_config(tmp, url))
        engine = make_engine(url)
        try:
            upgrade(engine)
            store_id = bootstrap_store(engine, settings)
            _generate(engine, store_id, args.items, args.batches, args.sales, date(2026, 12, 31))
            entries, chained_s = _audited.chain(engine, store_id)
            size = db.stat().st_size
            print(f"SQLite: {args.items} items, {args.batches} batches, {args.sales} sales; {size / 1e6:.1f} MB "
                  f"(audit-chained after generation: {entries} entries in {chained_s:.1f} s, not timed)")
            key, code = sealed.new_key(), settings.store.fixmedins_code
            at = iter(datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(10_000))

            copy_ms, _, _ = _timed(lambda: shutil.copyfile(db, out / "copy.db"), args.rounds)

            def online() -> None:
                src, dst = sqlite3.connect(db), sqlite3.connect(out / "online.db")
                with dst:
                    src.backup(dst)
                src.close()
                dst.close()
                (out / "online.db").unlink()

            online_ms, _, _ = _timed(online, args.rounds)
            clear_ms, clear, clear_cpu = _timed(lambda: take(engine, out, code, next(at)), args.rounds)
            sealed_ms, sealed_, sealed_cpu = _timed(lambda: take(engine, out, code, next(at), key), args.rounds)
            print(f"  backup: file copy {copy_ms:.0f} ms, online backup API {online_ms:.0f} ms | take, clear "
                  f"{clear_ms:.0f} ms (CPU {clear_cpu:.0f}; {clear.size / 1e6:.1f} MB) | take, sealed {sealed_ms:.0f} ms "
                  f"(CPU {sealed_cpu:.0f}; {sealed_.size / 1e6:.1f} MB) -> sealing {sealed_ms / clear_ms:.2f}x the "
                  f"clear backup (median of {args.rounds})")

            def restored(path: Path, with_key: bytes | None) -> tuple[bool, int]:
                report = restore(path, str(tmp / f"r-{uuid.uuid4().hex[:8]}.db"), with_key)
                return report.ok, len(report.problems)

            r_clear_ms, (ok, named), r_clear_cpu = _timed(lambda: restored(clear.path, None), args.rounds)
            r_sealed_ms, (ok_s, named_s), r_sealed_cpu = _timed(lambda: restored(sealed_.path, key), args.rounds)
            print(f"  verified restore: clear {r_clear_ms:.0f} ms (CPU {r_clear_cpu:.0f}) | sealed {r_sealed_ms:.0f} ms "
                  f"(CPU {r_sealed_cpu:.0f}) -> {r_sealed_ms / r_clear_ms:.2f}x; beside the file copy {copy_ms:.0f} ms "
                  f"and the online backup API {online_ms:.0f} ms (same run); verified: "
                  f"{'passed' if ok else 'FAILED'} / {'passed' if ok_s else 'FAILED'} ({named} / {named_s} problems)")
            print(f"  backup + verified restore, sealed: {sealed_ms + r_sealed_ms:.0f} ms (CPU "
                  f"{sealed_cpu + r_sealed_cpu:.0f}; target < 30 000 ms) beside file copy + online backup "
                  f"{copy_ms + online_ms:.0f} ms")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
