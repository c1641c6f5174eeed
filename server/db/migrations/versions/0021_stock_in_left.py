"""stock in, what was left (issue #19): approved receipts guarded; counts of quarantine stock; transfers in a chain

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07

GSP-05, ST-02: an approved receipt is final — its stock entered the ledger from it, and the 3503 upload, a
supplier return and a recall read it. The service never changes one (`audit verify` names an edit behind its
back); from this revision the database refuses it too, on SQLite and PostgreSQL alike: an UPDATE or DELETE of an
approved receipt, of one of its lines (but for the batch the approval makes of a line, set once), of a trace code
scanned on one of its lines. A draft or inspected receipt still moves in place (the inspection's verdicts).
The conditions are written out as they are at this revision (a later change is a new revision).

Counts of 待验 stock: count_sheet gains `quarantine` (the sheet counts stock held in quarantine too), count_line
gains `location` (sellable | quarantine), and a batch may have a line per location (the unique key becomes sheet ×
batch × location). Existing sheets counted the shelf only: false and sellable. receipt_line.batch_id is indexed:
the trace codes received are found per batch (the 3505 upload, server.services.stock.trace_codes).

Transfers between the stores of a chain: store gains `chain_code` (existing stores: "", in no chain); new tables
stock_transfer and stock_transfer_line (the sender's 调拨出库), transfer_receipt and transfer_receipt_line (the
receiver's 调拨入库 with its 验收). Each is written once, whole: the database refuses any UPDATE or DELETE of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0019'
branch_labels = None
depends_on = None

_LINE_KEPT = ('id', 'store_id', 'receipt_id', 'line_no', 'item_id', 'lot_no', 'manufactured_on', 'expires_on', 'qty',
              'loose', 'unit_cost_fen', 'zone_id', 'outcome', 'reason')
_APPROVED_OF_LINE = "(SELECT status FROM receipt WHERE receipt.id = OLD.receipt_id) = 'approved'"
_APPROVED_OF_CODE = ("(SELECT r.status FROM receipt r JOIN receipt_line l ON l.receipt_id = r.id "
                     "WHERE l.id = OLD.line_id) = 'approved'")


_TRANSFER_TABLES = ("stock_transfer", "stock_transfer_line", "transfer_receipt", "transfer_receipt_line")


def _changed(dialect: str, columns: tuple[str, ...]) -> str:
    op_ = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return "(" + " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns) + ")"


def _rules(d: str) -> dict[str, tuple[str, str]]:
    """table -> (when an UPDATE is refused, when a DELETE is refused), as at this revision."""
    return {
        # approved is the last state: nothing of the receipt changes after it
        "receipt": ("OLD.status = 'approved'", "OLD.status = 'approved'"),
        # a line of an approved receipt: only its batch, set once by the approval (NULL -> the batch made);
        # moved into an approved receipt is the same as changed in one
        "receipt_line": (f"({_APPROVED_OF_LINE} AND ({_changed(d, _LINE_KEPT)} OR (OLD.batch_id IS NOT NULL AND "
                         f"{_changed(d, ('batch_id',))}))) OR ({_changed(d, ('receipt_id',))} AND "
                         "(SELECT status FROM receipt WHERE receipt.id = NEW.receipt_id) = 'approved')",
                         _APPROVED_OF_LINE),
        "receipt_trace_code": (_APPROVED_OF_CODE, _APPROVED_OF_CODE),
        # transfers: each side written once, whole
        **{t: ("1 = 1", "1 = 1") for t in _TRANSFER_TABLES},
    }


def _message(table: str, what: str) -> str:
    if table in _TRANSFER_TABLES:
        return (f"{table}: 调拨单据不可{'修改' if what == 'update' else '删除'}，更正须另开单据 / "
                f"the database refuses this {what.upper()} of {table}: a transfer is written once (ST-02)")
    return (f"{table}: 已审核入库单不可{'修改' if what == 'update' else '删除'}，更正须另开单据 / "
            f"the database refuses this {what.upper()} of {table}: an approved receipt is final (GSP-05, ST-02)")


def _create(dialect: str) -> None:
    bind = op.get_bind()
    for table, (on_update, on_delete) in _rules(dialect).items():
        for what, when in (("update", on_update), ("delete", on_delete)):
            name = f"guard_{table}_{what}"
            if dialect == "postgresql":
                bind.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                    f"IF {when} THEN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
                    f"MESSAGE = '{_message(table, what)}'; "
                    f"END IF; RETURN {'NEW' if what == 'update' else 'OLD'}; END $guard$")
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} "
                                     f"FOR EACH ROW EXECUTE FUNCTION {name}()")
            else:
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} FOR EACH ROW "
                                     f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{_message(table, what)}'); END")


def _drop(dialect: str) -> None:
    bind = op.get_bind()
    for table in _rules(dialect):
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
            if dialect == "postgresql":
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


_OLD_KEY = "uq_count_line_sheet_id"  # (sheet_id, batch_id): unnamed in 0019, named here by the convention below
_KEY = "uq_count_line_batch_location"


def _count_lines(dialect: str, to_new: bool) -> None:
    new = ("sheet_id", "batch_id", "location") if to_new else ("sheet_id", "batch_id")
    if dialect == "postgresql":
        op.drop_constraint("count_line_sheet_id_batch_id_key" if to_new else _KEY, "count_line", type_="unique")
        op.create_unique_constraint(_KEY if to_new else "count_line_sheet_id_batch_id_key", "count_line", list(new))
        return
    # SQLite: the table is rebuilt; the convention names 0019's unnamed key so that it can be dropped
    with op.batch_alter_table("count_line", recreate="always",
                              naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}) as batch:
        batch.drop_constraint(_OLD_KEY if to_new else _KEY, type_="unique")
        batch.create_unique_constraint(_KEY if to_new else _OLD_KEY, list(new))


def _transfer_tables() -> None:
    from server.db.types import UTCDateTime

    i, d, s = sa.Integer, sa.Date, sa.String
    ts = UTCDateTime(timezone=True)

    def fk(name: str, target: str, nullable: bool = False) -> sa.Column[int]:
        return sa.Column(name, i(), sa.ForeignKey(target), nullable=nullable)

    op.add_column("store", sa.Column("chain_code", s(length=30), nullable=False, server_default=""))
    op.create_table("stock_transfer",
        sa.Column("id", i(), primary_key=True), fk("store_id", "store.id"), fk("to_store_id", "store.id"),
        sa.Column("business_date", d(), nullable=False), sa.Column("note", s(length=200), nullable=False),
        fk("sent_by", "app_user.id", True), sa.Column("sent_at", ts, nullable=False))
    op.create_table("stock_transfer_line",
        sa.Column("id", i(), primary_key=True), fk("store_id", "store.id"), fk("transfer_id", "stock_transfer.id"),
        sa.Column("line_no", i(), nullable=False), fk("item_id", "item.id"),
        sa.Column("item_code", s(length=30), nullable=False), fk("batch_id", "batch.id"),
        sa.Column("lot_no", s(length=30), nullable=False), sa.Column("manufactured_on", d(), nullable=False),
        sa.Column("expires_on", d(), nullable=False), sa.Column("qty", i(), nullable=False),
        sa.Column("cost_fen", i(), nullable=False), sa.UniqueConstraint("transfer_id", "line_no"))
    op.create_table("transfer_receipt",
        sa.Column("id", i(), primary_key=True), fk("store_id", "store.id"), fk("transfer_id", "stock_transfer.id"),
        sa.Column("business_date", d(), nullable=False), sa.Column("note", s(length=200), nullable=False),
        fk("inspected_by", "app_user.id", True), sa.Column("inspected_at", ts, nullable=False),
        sa.UniqueConstraint("transfer_id"))
    op.create_table("transfer_receipt_line",
        sa.Column("id", i(), primary_key=True), fk("store_id", "store.id"), fk("receipt_id", "transfer_receipt.id"),
        fk("transfer_line_id", "stock_transfer_line.id"), fk("item_id", "item.id"), fk("batch_id", "batch.id"),
        sa.Column("outcome", s(length=20), nullable=False), sa.Column("reason", s(length=200), nullable=False))
    indexed = {"stock_transfer": ["store_id", "to_store_id", "business_date"],
               "stock_transfer_line": ["store_id", "transfer_id", "batch_id"],
               "transfer_receipt": ["store_id", "business_date"],
               "transfer_receipt_line": ["store_id", "receipt_id", "transfer_line_id"]}
    for table, columns in indexed.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _transfer_tables()
    _create(dialect)
    op.add_column("count_sheet", sa.Column("quarantine", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("count_line", sa.Column("location", sa.String(length=20), nullable=False,
                                          server_default="sellable"))
    _count_lines(dialect, to_new=True)
    op.create_index("ix_receipt_line_batch_id", "receipt_line", ["batch_id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_receipt_line_batch_id", "receipt_line")
    _count_lines(dialect, to_new=False)
    # (plain ALTER: SQLite ≥ 3.35 drops a column in place; a batch rebuild of a referenced table would trip its keys)
    op.execute("ALTER TABLE count_line DROP COLUMN location")
    op.execute("ALTER TABLE count_sheet DROP COLUMN quarantine")
    _drop(dialect)
    for table in reversed(_TRANSFER_TABLES):
        op.drop_table(table)
    op.execute("ALTER TABLE store DROP COLUMN chain_code")
