"""The 进销存 (ST-01): every figure equals a recomputation from the raw stock_movement rows in plain SQL (written
here, not by calling the report), on SQLite and PostgreSQL; opening + Σin − Σout = closing for every row on
generated movement data (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from reports import ledger
from reports.layout import DEFAULT
from server.db.models import Batch, Item
from server.db.models.base import table_of
from server.db.models.ledger import StockMovement
from server.db.models.period import PeriodClose, PeriodSnapshot
from server.rules.movements import TYPES, Direction
from server.services.context import Ctx
from tests.conftest import seed_shop
from tests.reports import ledger_data

# The default layout's columns as plain SQL over the kinds, written out here on purpose: the test does not ask
# server.rules.movements (nor the report) where a kind goes.
COLUMN_KINDS = {
    "in_purchase": ("purchase", "gift_in"),
    "in_sale_return": ("sale_return",),
    "in_count_gain": ("count_gain",),
    "in_transfer": ("transfer_in",),
    "in_other": ("opening", "other_in"),
    "out_sale": ("sale",),
    "out_purchase_return": ("purchase_return",),
    "out_count_loss": ("count_loss",),
    "out_damage": ("damage", "expiry_writeoff", "destruction"),
    "out_transfer": ("transfer_out",),
    "out_other": ("recall", "sampling", "other_out"),
}


def _recompute(engine: Engine, store_id: int, start: date, end: date) -> dict[int, dict[str, tuple[int, int, int]]]:
    """Per batch: opening, each column (outs positive) and closing as (qty, cost, retail), from the raw rows."""
    parts = []
    for m in ("qty", "cost_fen", "retail_fen"):
        parts.append(f"SUM(CASE WHEN business_date < :s THEN {m} ELSE 0 END) AS opening_{m}")
        for col, kinds in COLUMN_KINDS.items():
            sign = "" if col.startswith("in_") else "-"
            listed = ", ".join(f"'{k}'" for k in kinds)
            parts.append(f"SUM(CASE WHEN business_date >= :s AND kind IN ({listed}) THEN {sign}{m} ELSE 0 END) "
                         f"AS {col}_{m}")
        parts.append(f"SUM({m}) AS closing_{m}")
    sql = (f"SELECT batch_id, {', '.join(parts)} FROM stock_movement WHERE store_id = :sid AND business_date <= :e "
           "GROUP BY batch_id")
    out: dict[int, dict[str, tuple[int, int, int]]] = {}
    with engine.connect() as conn:
        for r in conn.execute(text(sql), {"s": start, "e": end, "sid": store_id}).mappings():
            fig = {}
            for name in ("opening", *COLUMN_KINDS, "closing"):
                fig[name] = (int(r[f"{name}_qty"]), int(r[f"{name}_cost_fen"]), int(r[f"{name}_retail_fen"]))
            if any(v != (0, 0, 0) for v in fig.values()):
                out[int(r["batch_id"])] = fig
    return out


def _figures(row: ledger.LedgerRow) -> dict[str, tuple[int, int, int]]:
    got = {"opening": row.opening, "closing": row.closing} | {c.key: row.col(c.key) for c in DEFAULT.columns}
    return {k: (f.qty, f.cost, f.retail) for k, f in got.items()}


def _shop_batches(engine: Engine, ctx: Ctx) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        return [(int(r[0]), int(r[1])) for r in conn.execute(
            text("SELECT id, item_id FROM batch WHERE store_id = :s ORDER BY id"), {"s": ctx.store_id})]


def test_every_figure_is_the_raw_rows_recomputed(engine: Engine, ctx: Ctx) -> None:
    seed_shop(engine, ctx)
    batches = _shop_batches(engine, ctx)
    first = ctx.today - timedelta(days=75)
    ledger_data.write(engine, ledger_data.generated(ctx.store_id, batches, first, 90, 400, seed=20))
    start, end = ctx.today - timedelta(days=40), ctx.today - timedelta(days=10)
    report = ledger.ledger_report(engine, ctx.store_id, start, end)
    expected = _recompute(engine, ctx.store_id, start, end)
    assert {r.batch_id for r in report.batches} == set(expected)
    for row in report.batches:
        assert row.batch_id is not None
        assert _figures(row) == expected[row.batch_id], row.identity
        assert row.balanced(DEFAULT) and not row.unplaced
    # an item's row is its batches' sum, recomputed from the raw rows per item
    per_item: dict[int, dict[str, list[int]]] = {}
    for bid, item in batches:
        for k, v in expected.get(bid, {}).items():
            acc = per_item.setdefault(item, {}).setdefault(k, [0, 0, 0])
            for n in range(3):
                acc[n] += v[n]
    assert {r.item_id: _figures(r) for r in report.items} == {
        i: {k: tuple(v) for k, v in f.items()} for i, f in per_item.items()}
    # the totals by GSP class and by 医保 category add up to the whole, and the whole is every row
    with engine.connect() as conn:
        whole = conn.execute(text("SELECT SUM(qty), SUM(cost_fen), SUM(retail_fen) FROM stock_movement "
                                  "WHERE store_id = :s AND business_date <= :e"), {"s": ctx.store_id, "e": end}).one()
    assert (report.total.closing.qty, report.total.closing.cost, report.total.closing.retail) == tuple(whole)
    for groups in (report.by_gsp_class, report.by_insurance_category):
        assert sum((g.closing for g in groups), ledger.ZERO) == report.total.closing
        assert sum((g.col("out_sale") for g in groups), ledger.ZERO) == report.total.col("out_sale")
    assert {g.label for g in report.by_gsp_class} == {"rx", "otc_a", "device", "food"}
    amox = next(r for r in report.batches if r.identity["batch_no"] == "B-AMOX-1")
    assert amox.identity["unit"] == "粒" and amox.identity["lot_no"] == "L1"  # the smallest sale unit


def test_a_month_by_default(engine: Engine, ctx: Ctx) -> None:
    assert ledger.month_of(date(2027, 2, 14)) == (date(2027, 2, 1), date(2027, 2, 28))
    assert ledger.month_of(date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    with pytest.raises(ValueError):
        ledger.ledger_report(engine, ctx.store_id, date(2027, 2, 2), date(2027, 2, 1))


# --- the identity on generated data ------------------------------------------------------------------------

_SCHEMA: dict[str, Engine] = {}


def _memory_engine() -> Engine:
    """One in-memory database with the tables the report reads (no foreign keys enforced; the period close's
    stay empty: no snapshot to open from); each example writes under a store id of its own."""
    if "e" not in _SCHEMA:
        eng = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                               connect_args={"check_same_thread": False})
        tables = [table_of(Item), table_of(Batch), table_of(StockMovement),
                  table_of(PeriodClose), table_of(PeriodSnapshot)]
        for t in tables:
            t.create(eng)
        _SCHEMA["e"] = eng
    return _SCHEMA["e"]


KIND = st.sampled_from(sorted(TYPES))
MOVE = st.tuples(st.integers(0, 3), KIND, st.integers(1, 500), st.integers(0, 10**7), st.integers(0, 10**7),
                 st.integers(0, 120))
_store_ids = iter(range(1000, 10**6))
STAMP = datetime(2027, 1, 1, tzinfo=UTC)  # the rows' own times: the report reads business dates only


@hsettings(max_examples=60, deadline=None)
@given(moves=st.lists(MOVE, max_size=40), a=st.integers(0, 120), b=st.integers(0, 120))
def test_opening_plus_in_less_out_is_closing(moves: list[Any], a: int, b: int) -> None:
    eng = _memory_engine()
    sid = next(_store_ids)
    day0 = date(2027, 1, 1)
    start, end = day0 + timedelta(days=min(a, b)), day0 + timedelta(days=max(a, b))
    with eng.begin() as conn:
        for n in range(4):
            conn.execute(sa.insert(table_of(Item)).values(
                id=sid * 10 + n, store_id=sid, code=f"I{n}", name=f"品{n}", gsp_class=("rx", "otc_a")[n % 2],
                price_fen=100, rev=0, created_at=STAMP, updated_at=STAMP))
            conn.execute(sa.insert(table_of(Batch)).values(
                id=sid * 10 + n, store_id=sid, item_id=sid * 10 + n // 2, batch_no=f"{sid}-{n}", lot_no="L",
                manufactured_on=day0, expires_on=day0 + timedelta(days=900), cost_fen=1, status="active",
                received_at=STAMP))
    rows = []
    for n, kind, qty, cost, retail, d in moves:
        bid, item = sid * 10 + n, sid * 10 + n // 2
        day = day0 + timedelta(days=d)
        if TYPES[kind].direction == Direction.MOVE:
            rows.append(ledger_data.movement(sid, bid, item, kind.value, -qty, -cost, -retail, day))
            rows.append(ledger_data.movement(sid, bid, item, kind.value, qty, cost, retail, day, "quarantine"))
        else:
            sign = 1 if TYPES[kind].direction == Direction.IN else -1
            rows.append(ledger_data.movement(sid, bid, item, kind.value, sign * qty, sign * cost, sign * retail, day))
    if rows:
        ledger_data.write(eng, rows)
    report = ledger.ledger_report(eng, sid, start, end, checks=False)
    for row in [*report.batches, *report.items, report.total, *report.by_gsp_class, *report.by_insurance_category]:
        assert row.opening + row.total_in(DEFAULT) - row.total_out(DEFAULT) == row.closing
        assert not row.unplaced
    # and the ends are the raw sums, not the report's arithmetic
    raw_close = sum((r["qty"] for r in rows if r["business_date"] <= end), 0)
    raw_open = sum((r["cost_fen"] for r in rows if r["business_date"] < start), 0)
    assert report.total.closing.qty == raw_close and report.total.opening.cost == raw_open


def test_a_report_cannot_write(engine: Engine, ctx: Ctx) -> None:
    """The report's snapshot refuses a write in the database itself (PostgreSQL READ ONLY, SQLite query_only);
    the connection goes back to the pool writable."""
    from reports import queries

    row = ledger_data.movement(ctx.store_id, 1, 1, "other_in", 1, 0, 0, ctx.today)
    with queries.reading(engine) as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(ledger_data.INSERT, row)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM stock_movement WHERE kind = 'other_in'")).scalar() == 0


def test_a_provinces_layout_is_configuration(engine: Engine, ctx: Ctx) -> None:
    """A province that merges count gains into other receipts and keeps fewer identity fields: a mapping in
    config.toml ([reports] ledger_layout), checked at load; a layout that leaves a movement column out is refused."""
    from reports.layout import configured, layout_from
    from server.config import Settings

    spec = {"name": "merged", "identity": ["code", "generic_name", "lot_no"],
            "columns": [{"key": "in_all", "zh": "入库", "sources": ["in_purchase", "in_sale_return", "in_count_gain",
                                                                  "in_transfer", "in_other"]},
                        {"key": "out_sale", "zh": "销售", "sources": ["out_sale"]},
                        {"key": "out_rest", "zh": "其他出库", "sources": ["out_purchase_return", "out_count_loss",
                                                                       "out_damage", "out_transfer", "out_other"]}]}
    merged = layout_from(spec)
    assert configured({}) is DEFAULT and [c.key for c in merged.ins] == ["in_all"]
    seed_shop(engine, ctx)
    report = ledger.ledger_report(engine, ctx.store_id, ctx.today, ctx.today, merged)
    assert report.total.col("in_all").qty == report.total.closing.qty > 0 and not report.unbalanced()
    with pytest.raises(ValueError):
        layout_from({"columns": spec["columns"][:2]})  # the outs other than sales land nowhere
    settings = ctx.settings.model_dump()
    with pytest.raises(ValueError):
        Settings.model_validate(settings | {"reports": {"ledger_layout": {"columns": spec["columns"][:2]}}})
    assert Settings.model_validate(settings | {"reports": {"ledger_layout": spec}}).reports.ledger_layout == spec
