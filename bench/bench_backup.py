"""Backups and verified restores, clear and sealed (SEC-05): `python -m bench.bench_backup [--items 500]
[--batches 2000] [--sales 100000] [--rounds 3]`.

The generated year of bench_ledger_report on SQLite. In the same run: the bare copies (a file copy; SQLite's
online backup API, what `sqlite3 .backup` does) beside `take` writing the backup in the clear and sealed with
AES-256-GCM (server.backup.sealed), then the restore of each, verified (schema head, row counts, audit chain,
balances). The generated rows are written in bulk, not through the service, so the audit check names them: the
restore's figure includes that work and says how many it named.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench._common import write_config
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
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
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
            size = db.stat().st_size
            print(f"SQLite: {args.items} items, {args.batches} batches, {args.sales} sales; {size / 1e6:.1f} MB")
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

            def restored(path: Path, with_key: bytes | None) -> int:
                report = restore(path, str(tmp / f"r-{uuid.uuid4().hex[:8]}.db"), with_key)
                return len(report.problems)

            r_clear_ms, named, r_clear_cpu = _timed(lambda: restored(clear.path, None), args.rounds)
            r_sealed_ms, named_s, r_sealed_cpu = _timed(lambda: restored(sealed_.path, key), args.rounds)
            print(f"  verified restore: clear {r_clear_ms:.0f} ms (CPU {r_clear_cpu:.0f}) | sealed {r_sealed_ms:.0f} ms "
                  f"(CPU {r_sealed_cpu:.0f}) -> {r_sealed_ms / r_clear_ms:.2f}x; beside the file copy {copy_ms:.0f} ms "
                  f"(same run; the audit check named {named} / {named_s} bulk-written rows, capped per store)")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
