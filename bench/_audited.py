"""The generated year of bench_ledger_report audit-chained after its bulk insert, so a verified restore of it (and
the checklist's audit check) sees a store the service could have written.

The generator writes items, batches and stock movements with Core executemany, nothing audited and no batch balance:
`audit verify` names every such row "written behind the service's back" and every batch's balance as not its
movements' sum, and a verified restore of the store fails. `chain` first writes each batch's balance as the sum of
its movements (what the ledger's writer keeps in each movement's transaction: a derived table, not audited), then
appends one audit entry per generated row, in one transaction, through the service's own `audit.record` with the
row's image as the service takes it (`audit.image`): action "bench.bulk_load", by "system", each entry dated at its
row's business day (audit.record takes its time from utcnow, patched here for the bench only). The chain is whole
and every row matches its image; the per-row entries make the chain as long as a store that wrote those rows one
by one (a sale images its movements inside the sale's entry instead: the real chain is shorter, not longer).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any
from unittest import mock

import sqlalchemy as sa

from server import audit
from server.db.models.base import table_of
from server.db.uow import core_unit

TABLES = ("item", "batch", "stock_movement")  # what bench_ledger_report._generate writes
ACTION = "bench.bulk_load"


def _when(values: dict[str, Any]) -> datetime:
    """The entry's time: the row's business day (noon in Shanghai), else its own time — as if the store had written
    it then, so a period's audit entries are the period's (the checklist reads the period's log), not all today's."""
    day = values.get("business_date")
    if isinstance(day, date):
        return datetime.combine(day, clock_time(4), tzinfo=UTC)
    for key in ("created_at", "received_at", "at"):
        if isinstance(values.get(key), datetime):
            return values[key]
    return datetime.now(UTC)


def chain(engine: Any, store_id: int, tables: tuple[str, ...] = TABLES) -> tuple[int, float]:
    """Writes the store's batch balances and audit-chains every row of `tables` in it (once, after the bulk
    insert); returns (entries, seconds)."""
    t0, n = time.perf_counter(), 0
    with core_unit(engine) as u:
        conn = u.connection()
        conn.execute(sa.text(
            "INSERT INTO batch_balance (batch_id, location, store_id, item_id, qty, cost_fen) "
            "SELECT batch_id, location, store_id, MIN(item_id), SUM(qty), SUM(cost_fen) FROM stock_movement "
            "WHERE store_id = :s AND batch_id NOT IN (SELECT batch_id FROM batch_balance) "
            "GROUP BY batch_id, location, store_id"), {"s": store_id})
        for name in tables:
            model = audit.ROW_AUDITED[name]
            table = table_of(model)  # the model's column types: the image is the one verify takes of the row
            for row in conn.execute(sa.select(table).where(table.c.store_id == store_id).order_by(table.c.id)).all():
                values = dict(row._mapping)
                with mock.patch.object(audit, "utcnow", lambda v=values: _when(v)):
                    audit.record(u, store_id, audit.SYSTEM, ACTION, name, values["id"], None,
                                 audit.image(model, values))
                n += 1
    return n, time.perf_counter() - t0
