"""the ledger's foundation (every movement's cost, retail worth and business date; each balance's cost on hand);
suppliers' scope and 首营 approval; receipts with their lines, inspection and trace codes; 首营品种

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

stock_movement gains cost_fen and retail_fen (fen, signed like qty) and business_date (the store's day);
batch_balance gains cost_fen, the cost of the stock on hand, never negative and zero at zero stock (CHECKs).

Existing rows are backfilled, batch by batch and location, in the order written, as the ledger would have
written them (server.services.stock.ledger.share): stock in at the batch's unit cost (qty × batch.cost_fen /
split ratio, half up), stock out at its share of the cost on hand, a sale return at its share of what its
sale's movement took; retail at the item's price today (sales: the line's amount spread by quantity, which
may differ by a fen from today's spread over several batches); business_date is `at` in the store's time zone.
What cannot be derived: the price of an item when stock moved if it has changed since (today's is used for
non-sale movements), and a sale line's cost_fen snapshot written before this revision (kept as it was: it
was computed at the batch's unit cost per line, and may differ by rounding from what the backfilled
movements took). The balances' cost is set to the sum of their movements' cost.

Suppliers gain their business scope (经营范围) and their 首营 approval (who, when). Existing suppliers get an
empty scope and no approval: neither can be derived, and a supplier delivers nothing until both are recorded.
New tables: receipt (a delivery or the store's one first inventory), receipt_line, receipt_trace_code,
supplier_item (首营品种), supplier_return and supplier_return_line (购进退出).

The movements' guard (0011) refuses any UPDATE: it is lifted for the backfill and put back as it was. Each
store with an audit chain gets one entry ("stock.revalue", server.audit) imaging the backfilled rows, so
`audit verify` knows the new values were written by this revision and not behind the service's back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_GUARD = "guard_stock_movement_update"
_CHECKS = (("ck_batch_balance_cost_not_negative", "cost_fen >= 0"),
           ("ck_batch_balance_no_cost_without_stock", "qty > 0 OR cost_fen = 0"))


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _share(cost: int, qty: int, take: int) -> int:
    return _half_up(cost * take, qty) if qty > 0 else 0


def _sqlite_triggers(bind: sa.Connection, table: str) -> list[str]:
    return [r[0] for r in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)).all()]


def _backfill(bind: sa.Connection) -> None:
    from server.audit import SYSTEM, record
    from server.db.uow import Unit

    stores = {int(i): ZoneInfo(tz or "Asia/Shanghai") for i, tz in bind.execute(sa.text("SELECT id, timezone FROM store"))}
    at_type = sa.DateTime(timezone=True)
    rows = bind.execute(sa.text(
        "SELECT m.id, m.store_id, m.batch_id, m.location, m.kind, m.qty, m.at, m.ref_type, m.ref_id, "
        "b.cost_fen AS unit_cost, i.split_ratio, i.price_fen, l.amount_fen AS line_amount, l.qty AS line_qty, "
        "l.split AS line_split, l.unit_price_fen AS line_price "
        "FROM stock_movement m JOIN batch b ON b.id = m.batch_id JOIN item i ON i.id = m.item_id "
        "LEFT JOIN sale_line l ON m.ref_type IN ('sale_line', 'sale_return_line') "
        "AND l.id = CAST(m.ref_id AS INTEGER) ORDER BY m.id").columns(at=at_type)).all()
    if not rows:
        return
    held: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    taken: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])  # (sale line, batch) -> [qty, cost] out
    back: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])  # what came back of it
    updates: list[dict[str, Any]] = []
    for r in rows:
        ratio = max(int(r.split_ratio or 1), 1)
        state = held[(r.batch_id, r.location)]
        qty = int(r.qty)
        if qty > 0 and r.ref_type == "sale_return_line" and (r.ref_id, r.batch_id) in taken:
            tq, tc = taken[(r.ref_id, r.batch_id)]
            bq, bc = back[(r.ref_id, r.batch_id)]
            cost = _share(tc - bc, tq - bq, qty) if tq - bq >= qty else _half_up(int(r.unit_cost) * qty, ratio)
            back[(r.ref_id, r.batch_id)] = [bq + qty, bc + cost]
        elif qty > 0:
            cost = _half_up(int(r.unit_cost) * qty, ratio)
        else:
            cost = -_share(state[1], state[0], -qty) if state[0] >= -qty else 0
            if r.ref_type == "sale_line":
                taken[(r.ref_id, r.batch_id)][0] += -qty
                taken[(r.ref_id, r.batch_id)][1] += -cost
        state[0] += qty
        state[1] += cost
        if state[0] <= 0:
            state[1] = 0  # (stock never goes below zero; a ledger that did keeps no cost at zero)
        if r.line_amount is not None and r.ref_type == "sale_line":
            base = int(r.line_qty) if r.line_split else int(r.line_qty) * ratio
            retail = -_half_up(int(r.line_amount) * -qty, base) if base else 0
        elif r.line_price is not None and r.ref_type == "sale_return_line":
            retail = _half_up(int(r.line_price) * qty, 1 if r.line_split else ratio)
        else:
            retail = _half_up(int(r.price_fen) * abs(qty), ratio) * (1 if qty > 0 else -1)
        at = r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=ZoneInfo("UTC"))
        updates.append({"i": r.id, "c": cost, "r": retail, "d": at.astimezone(stores[int(r.store_id)]).date(),
                        "s": int(r.store_id)})
    dialect = bind.dialect.name
    saved: list[str] = []
    if dialect == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE stock_movement DISABLE TRIGGER {_GUARD}")
    else:
        saved = [t for t in _sqlite_triggers(bind, "stock_movement") if _GUARD in t]
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_GUARD}")
    bind.execute(sa.text("UPDATE stock_movement SET cost_fen = :c, retail_fen = :r, business_date = :d WHERE id = :i"),
                 updates)
    if dialect == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE stock_movement ENABLE TRIGGER {_GUARD}")
    else:
        for sql in saved:
            bind.exec_driver_sql(sql)
    bind.execute(sa.text(
        "UPDATE batch_balance SET cost_fen = COALESCE((SELECT SUM(m.cost_fen) FROM stock_movement m "
        "WHERE m.batch_id = batch_balance.batch_id AND m.location = batch_balance.location), 0)"))
    bind.execute(sa.text("UPDATE batch_balance SET cost_fen = 0 WHERE qty <= 0 OR cost_fen < 0"))
    # The new values, imaged in each store's chain: the rows as they are now, by id.
    chained = {int(s) for (s,) in bind.execute(sa.text("SELECT store_id FROM audit_head"))}
    from server.audit import REVALUE, ROW_AUDITED, image
    from server.db.models.base import table_of
    movement = ROW_AUDITED["stock_movement"]  # (the model as this revision leaves it)
    table = table_of(movement)
    for store_id in sorted(chained & {u["s"] for u in updates}):
        written = bind.execute(sa.select(table).where(table.c.store_id == store_id).order_by(table.c.id)).all()
        record(Unit(bind), store_id, SYSTEM, REVALUE, "stock_movement", store_id, None,
               {"columns": ["cost_fen", "retail_fen", "business_date"],
                "movements": [image(movement, dict(w._mapping)) for w in written]},
               note="0017: 库存流水补记成本、零售额与营业日 / the ledger's cost, retail and business date backfilled")


def _receiving_tables() -> None:
    from server.db.types import UTCDateTime

    string = sa.String
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('first_approved_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_approved_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_supplier_first_approved_by', 'app_user', ['first_approved_by'], ['id'])
    op.create_table('receipt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('kind', string(length=20), nullable=False),
        sa.Column('supplier_id', sa.Integer(), nullable=True),
        sa.Column('dynt_no', string(length=50), nullable=False),
        sa.Column('purc_invo_no', string(length=50), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('status', string(length=20), nullable=False),
        sa.Column('note', string(length=200), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('inspected_by', sa.Integer(), nullable=True),
        sa.Column('inspected_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('approved_by', sa.Integer(), nullable=True),
        sa.Column('approved_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id']),
        sa.ForeignKeyConstraint(['created_by'], ['app_user.id']),
        sa.ForeignKeyConstraint(['inspected_by'], ['app_user.id']),
        sa.ForeignKeyConstraint(['approved_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_receipt_store_id', 'receipt', ['store_id'])
    op.create_index('ix_receipt_supplier_id', 'receipt', ['supplier_id'])
    op.create_index('ix_receipt_business_date', 'receipt', ['business_date'])
    op.create_index('uq_receipt_one_opening', 'receipt', ['store_id'], unique=True,
                    sqlite_where=sa.text("kind = 'opening'"), postgresql_where=sa.text("kind = 'opening'"))
    op.create_table('receipt_line',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('receipt_id', sa.Integer(), nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('lot_no', string(length=30), nullable=False),
        sa.Column('manufactured_on', sa.Date(), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.Column('qty', sa.Integer(), nullable=False),
        sa.Column('loose', sa.Integer(), nullable=False),
        sa.Column('unit_cost_fen', sa.Integer(), nullable=False),
        sa.Column('zone_id', sa.Integer(), nullable=True),
        sa.Column('outcome', string(length=20), nullable=False),
        sa.Column('reason', string(length=200), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['receipt_id'], ['receipt.id']),
        sa.ForeignKeyConstraint(['item_id'], ['item.id']),
        sa.ForeignKeyConstraint(['zone_id'], ['zone.id']),
        sa.ForeignKeyConstraint(['batch_id'], ['batch.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('receipt_id', 'line_no'))
    for column in ('store_id', 'receipt_id', 'item_id'):
        op.create_index(f'ix_receipt_line_{column}', 'receipt_line', [column])
    op.create_table('receipt_trace_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('line_id', sa.Integer(), nullable=False),
        sa.Column('code', string(length=30), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['line_id'], ['receipt_line.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('store_id', 'code'))
    op.create_index('ix_receipt_trace_code_store_id', 'receipt_trace_code', ['store_id'])
    op.create_index('ix_receipt_trace_code_line_id', 'receipt_trace_code', ['line_id'])
    op.create_table('supplier_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('supplier_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('approved_by', sa.Integer(), nullable=True),
        sa.Column('approved_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id']),
        sa.ForeignKeyConstraint(['item_id'], ['item.id']),
        sa.ForeignKeyConstraint(['approved_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('supplier_id', 'item_id'))
    for column in ('store_id', 'supplier_id', 'item_id'):
        op.create_index(f'ix_supplier_item_{column}', 'supplier_item', [column])
    op.create_table('supplier_return',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('receipt_id', sa.Integer(), nullable=False),
        sa.Column('supplier_id', sa.Integer(), nullable=False),
        sa.Column('purc_invo_no', string(length=50), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('reason', string(length=200), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['receipt_id'], ['receipt.id']),
        sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id']),
        sa.ForeignKeyConstraint(['created_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'))
    for column in ('store_id', 'receipt_id', 'supplier_id', 'business_date'):
        op.create_index(f'ix_supplier_return_{column}', 'supplier_return', [column])
    op.create_table('supplier_return_line',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('return_id', sa.Integer(), nullable=False),
        sa.Column('receipt_line_id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('qty', sa.Integer(), nullable=False),
        sa.Column('location', string(length=12), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['return_id'], ['supplier_return.id']),
        sa.ForeignKeyConstraint(['receipt_line_id'], ['receipt_line.id']),
        sa.ForeignKeyConstraint(['batch_id'], ['batch.id']),
        sa.PrimaryKeyConstraint('id'))
    for column in ('store_id', 'return_id', 'receipt_line_id'):
        op.create_index(f'ix_supplier_return_line_{column}', 'supplier_return_line', [column])


def _drop_receiving_tables() -> None:
    for table in ('supplier_return_line', 'supplier_return', 'supplier_item', 'receipt_trace_code', 'receipt_line',
                  'receipt'):
        op.drop_table(table)
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.drop_constraint('fk_supplier_first_approved_by', type_='foreignkey')
        batch_op.drop_column('first_approved_at')
        batch_op.drop_column('first_approved_by')
        batch_op.drop_column('scope')


def upgrade() -> None:
    bind = op.get_bind()
    _receiving_tables()
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_fen', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('retail_fen', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('business_date', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_stock_movement_business_date'), ['business_date'], unique=False)
    with op.batch_alter_table('batch_balance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_fen', sa.Integer(), nullable=False, server_default='0'))
    _backfill(bind)
    if bind.dialect.name == "postgresql":
        for name, check in _CHECKS:
            op.create_check_constraint(name, 'batch_balance', check)
        return
    with _triggers_kept(bind, "batch_balance"), \
            op.batch_alter_table('batch_balance', schema=None, recreate="always") as batch_op:
        for name, check in _CHECKS:
            batch_op.create_check_constraint(name, check)


@contextmanager
def _triggers_kept(bind: sa.Connection, table: str) -> Iterator[None]:
    """SQLite changes a table's constraints or drops a column by copying the table, which drops its triggers
    (the guards of 0011): they are put back as they were."""
    triggers = _sqlite_triggers(bind, table) if bind.dialect.name == "sqlite" else []
    yield
    kept = set(_sqlite_triggers(bind, table)) if triggers else set()
    for sql in triggers:
        if sql not in kept:
            bind.exec_driver_sql(sql)


def downgrade() -> None:
    bind = op.get_bind()
    _drop_receiving_tables()
    if bind.dialect.name == "postgresql":
        for name, _ in _CHECKS:
            op.drop_constraint(name, 'batch_balance', type_='check')
        op.drop_column('batch_balance', 'cost_fen')
    else:
        with _triggers_kept(bind, "batch_balance"), \
                op.batch_alter_table('batch_balance', schema=None, recreate="always") as batch_op:
            for name, _ in _CHECKS:
                batch_op.drop_constraint(name, type_='check')
            batch_op.drop_column('cost_fen')
    # Dropping a column of stock_movement is no UPDATE of its rows: the guard lets it be.
    with _triggers_kept(bind, "stock_movement"), op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movement_business_date'))
        batch_op.drop_column('business_date')
        batch_op.drop_column('retail_fen')
        batch_op.drop_column('cost_fen')
