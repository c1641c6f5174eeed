"""Backups, restores and restore drills (SEC-05).

- `placement`: the backup directory must be on another device than the database (refused otherwise).
- `archive`: the file a backup is: a tar of `manifest.json` and the database's payload, with a `.sha256` beside it.
- `take`: a consistent online backup while the store sells (SQLite's online backup API; `pg_dump` on an exported
  snapshot for PostgreSQL), its manifest read from the same snapshot (schema head, row counts, audit heads).
- `restore`: into a new database, verified (schema head, row counts, audit chain, balances) before it can be used.
- `retention`: which backups to keep.
- `records`: the backup and drill rows the checklist reads.
"""
