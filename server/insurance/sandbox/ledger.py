"""The sandbox centre's own books (SQLite): persons and their accounts, sign-ins, settlements
and cancellations, the trace codes each settlement carried, reversal tombstones, the answers of
effectful messages (so a repeated msgid is answered, not settled again) and every delivery received.

One lock serialises the centre's transactions; each `transaction()` commits or rolls back whole.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.insurance.sandbox.persons import DEMO_PERSONS, DemoPerson

SCHEMA = """
CREATE TABLE IF NOT EXISTS person (
    psn_no TEXT PRIMARY KEY, doc TEXT NOT NULL, balc_fen INTEGER NOT NULL,
    dedc_used_fen INTEGER NOT NULL DEFAULT 0, dedc_year INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sign_in (
    sign_no TEXT PRIMARY KEY, fixmedins_code TEXT NOT NULL, opter TEXT NOT NULL, sign_time TEXT NOT NULL,
    sign_date TEXT NOT NULL, mac TEXT, ip TEXT, signed_out_at TEXT);
CREATE TABLE IF NOT EXISTS settlement (
    setl_id TEXT PRIMARY KEY, mdtrt_id TEXT NOT NULL, msgid TEXT NOT NULL, infno TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, psn_no TEXT NOT NULL, insutype TEXT NOT NULL, clr_optins TEXT NOT NULL,
    setl_time TEXT NOT NULL, setl_date TEXT NOT NULL, medfee_fen INTEGER NOT NULL, fund_fen INTEGER NOT NULL,
    acct_fen INTEGER NOT NULL, cash_fen INTEGER NOT NULL, dedc_fen INTEGER NOT NULL,
    refd_setl_flag TEXT NOT NULL, ref_setl_id TEXT, status TEXT NOT NULL, answer TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_settlement_msgid ON settlement (fixmedins_code, msgid);
CREATE TABLE IF NOT EXISTS reversal (
    fixmedins_code TEXT NOT NULL, omsgid TEXT NOT NULL, oinfno TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (fixmedins_code, omsgid));
CREATE TABLE IF NOT EXISTS answer (
    fixmedins_code TEXT NOT NULL, msgid TEXT NOT NULL, infno TEXT NOT NULL, digest TEXT NOT NULL,
    answer TEXT NOT NULL, PRIMARY KEY (fixmedins_code, msgid));
CREATE TABLE IF NOT EXISTS delivery (
    id INTEGER PRIMARY KEY, fixmedins_code TEXT, msgid TEXT, infno TEXT, at TEXT NOT NULL, body TEXT NOT NULL,
    infcode TEXT, answer TEXT, fault TEXT);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directory (code TEXT PRIMARY KEY, category TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS directory_trace (code TEXT PRIMARY KEY, traced INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trace_sale (
    fixmedins_code TEXT NOT NULL, code TEXT NOT NULL, setl_id TEXT NOT NULL, feedetl_sn TEXT NOT NULL,
    trdn_flag TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_trace_sale_code ON trace_sale (fixmedins_code, code);
"""


def person_doc(p: DemoPerson) -> dict[str, Any]:
    return {"psn_no": p.psn_no, "psn_name": p.name, "gend": p.gend, "naty": "01", "brdy": p.born.isoformat(),
            "psn_cert_type": "01", "certno": p.certno, "card_no": p.card_no, "card_sn": p.card_sn,
            "ec_token": p.ec_token, "insutype": p.insutype, "psn_type": p.psn_type,
            "insuplc_admdvs": p.insuplc_admdvs, "emp_name": p.emp_name, "psn_insu_stas": p.insu_stas,
            "other_insutypes": list(p.other_insutypes)}


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self.lock = threading.RLock()
        self.extra_tables: list[str] = []  # tables another part of the centre keeps (its own schema): reset clears them
        with self.lock:
            self._db.executescript(SCHEMA)
            if self._db.execute("SELECT COUNT(*) FROM person").fetchone()[0] == 0:
                self.seed()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def script(self, sql: str) -> None:
        """Another part of the centre's schema (CREATE … IF NOT EXISTS), outside any transaction."""
        with self.lock:
            self._db.executescript(sql)

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def seed(self) -> None:
        with self.transaction() as db:
            for p in DEMO_PERSONS:
                db.execute("INSERT OR REPLACE INTO person (psn_no, doc, balc_fen) VALUES (?, ?, ?)",
                           (p.psn_no, json.dumps(person_doc(p), ensure_ascii=False), p.balance_fen))

    def reset(self) -> None:
        """Back to the demo persons and nothing else (tests call it between cases)."""
        with self.transaction() as db:
            for table in ("person", "sign_in", "settlement", "reversal", "answer", "delivery", "counter", "setting",
                          "directory", "directory_trace", "trace_sale", *self.extra_tables):
                db.execute(f"DELETE FROM {table}")
        self.seed()

    # --- small helpers used inside a transaction -----------------------------------------------

    @staticmethod
    def next_value(db: sqlite3.Connection, name: str) -> int:
        db.execute("INSERT OR IGNORE INTO counter (name, value) VALUES (?, 0)", (name,))
        db.execute("UPDATE counter SET value = value + 1 WHERE name = ?", (name,))
        return int(db.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()[0])

    def setting(self, key: str, default: Any) -> Any:
        rows = self.query("SELECT value FROM setting WHERE key = ?", key)
        return json.loads(rows[0]["value"]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", (key, json.dumps(value)))
