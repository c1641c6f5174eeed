"""Movement data for the 进销存's tests: rows written straight into stock_movement (inserts only: the ledger's
guards refuse updates and deletes, not these), on batches of the seeded shop, over three months."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, text

from server.rules.movements import TYPES, Direction

INSERT = text("INSERT INTO stock_movement (store_id, batch_id, item_id, kind, qty, location, at, ref_type, ref_id, "
              "note, cost_fen, retail_fen, business_date) VALUES (:store_id, :batch_id, :item_id, :kind, :qty, "
              ":location, :at, :ref_type, :ref_id, '', :cost_fen, :retail_fen, :business_date)")


def movement(store_id: int, batch_id: int, item_id: int, kind: str, qty: int, cost: int, retail: int, day: date,
             location: str = "sellable", ref_type: str = "test", ref_id: str = "") -> dict[str, Any]:
    from datetime import UTC, datetime
    return {"store_id": store_id, "batch_id": batch_id, "item_id": item_id, "kind": kind, "qty": qty,
            "location": location, "at": datetime(day.year, day.month, day.day, 4, tzinfo=UTC), "ref_type": ref_type,
            "ref_id": ref_id, "cost_fen": cost, "retail_fen": retail, "business_date": day}


def generated(store_id: int, batches: list[tuple[int, int]], first: date, days: int, n: int,
              seed: int) -> list[dict[str, Any]]:
    """n movements of every kind on the given (batch, item) pairs, signed as their kinds go; a move within the
    store as its pair (out of one location, into the other, same cost)."""
    rnd = random.Random(seed)
    kinds = sorted(TYPES)
    out: list[dict[str, Any]] = []
    for _ in range(n):
        batch_id, item_id = rnd.choice(batches)
        kind = rnd.choice(kinds)
        qty, cost, retail = rnd.randint(1, 30), rnd.randint(0, 3000), rnd.randint(0, 5000)
        day = first + timedelta(days=rnd.randrange(days))
        d = TYPES[kind].direction
        if d == Direction.MOVE:
            out.append(movement(store_id, batch_id, item_id, kind.value, -qty, -cost, -retail, day))
            out.append(movement(store_id, batch_id, item_id, kind.value, qty, cost, retail, day, "quarantine"))
        else:
            sign = 1 if d == Direction.IN else -1
            out.append(movement(store_id, batch_id, item_id, kind.value, sign * qty, sign * cost, sign * retail,
                                day))
    return out


def write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT, rows)
