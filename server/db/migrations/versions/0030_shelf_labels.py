"""shelf labels printed (GSP-04): each run and the facts each label showed

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07

Two new tables, both append-only evidence (a label printed anew is a new row of a new run): the database refuses an
UPDATE or DELETE of either. And the item's 产地 (origin), which a 中药饮片's label shows: empty on every item until set
(an item audited before it has the default, which verify accepts).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

_TABLES = ('label_run', 'shelf_label')


def _message(table: str, what: str) -> str:
    return (f"{table}: 记录不可{'修改' if what == 'update' else '删除'}，须新增记录 / "
            f"the database refuses this {what.upper()} of {table}: a new record is a new row")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, ts = sa.String, sa.Integer, UTCDateTime(timezone=True)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False, index=True)

    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('origin', s(length=50), nullable=False, server_default=''))
    op.create_table('label_run',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('printed_at', ts, nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('printed_by', i(), sa.ForeignKey('app_user.id'), nullable=False),
        sa.Column('selection', s(length=20), nullable=False),
        sa.Column('zone_code', s(length=20), nullable=False),
        sa.Column('template', s(length=20), nullable=False),
        sa.Column('labels', i(), nullable=False))
    op.create_table('shelf_label',
        sa.Column('id', i(), primary_key=True), store(),
        sa.Column('run_id', i(), sa.ForeignKey('label_run.id'), nullable=False, index=True),
        sa.Column('item_id', i(), sa.ForeignKey('item.id'), nullable=False, index=True),
        sa.Column('price_fen', i(), nullable=False),
        sa.Column('facts', sa.JSON(), nullable=False))
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for table in _TABLES:
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            if pg:
                bind.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                    f"RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{_message(table, what)}'; "
                    f"END $guard$")
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} "
                                     f"FOR EACH ROW EXECUTE FUNCTION {name}()")
            else:
                bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {table} FOR EACH ROW "
                                     f"BEGIN SELECT RAISE(ABORT, '{_message(table, what)}'); END")


def downgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for table in _TABLES:
        for what in ("update", "delete"):
            name = f"guard_{table}_{what}"
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if pg else ""))
            if pg:
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
    for table in reversed(_TABLES):
        op.drop_table(table)
    # not through a batch: on SQLite that copies the table, which its foreign keys refuse once it has rows
    op.drop_column('item', 'origin')
