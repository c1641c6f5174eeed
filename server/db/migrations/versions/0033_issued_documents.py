"""the stock documents as issued: each printed copy kept, byte for byte (issue #19)

Revision ID: 0033
Revises: 0030
Create Date: 2026-12-08

One new table, append-only evidence (a copy printed again is a new row): the database refuses an UPDATE or DELETE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0030'
branch_labels = None
depends_on = None

_TABLE = 'issued_document'


def _message(what: str) -> str:
    return (f"{_TABLE}: 记录不可{'修改' if what == 'update' else '删除'}，须新增记录 / "
            f"the database refuses this {what.upper()} of {_TABLE}: a new record is a new row")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i = sa.String, sa.Integer
    op.create_table(_TABLE,
        sa.Column('id', i(), primary_key=True),
        sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False, index=True),
        sa.Column('kind', s(length=20), nullable=False),
        sa.Column('ref_id', i(), nullable=False),
        sa.Column('fingerprint', s(length=19), nullable=False, index=True),
        sa.Column('file_name', s(length=100), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', s(length=64), nullable=False, index=True),
        sa.Column('size', i(), nullable=False),
        sa.Column('issued_by', i(), sa.ForeignKey('app_user.id'), nullable=False),
        sa.Column('issued_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False))
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for what in ("update", "delete"):
        name = f"guard_{_TABLE}_{what}"
        if pg:
            bind.exec_driver_sql(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                f"RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{_message(what)}'; "
                f"END $guard$")
            bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {_TABLE} "
                                 f"FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON {_TABLE} FOR EACH ROW "
                                 f"BEGIN SELECT RAISE(ABORT, '{_message(what)}'); END")


def downgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for what in ("update", "delete"):
        name = f"guard_{_TABLE}_{what}"
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {_TABLE}" if pg else ""))
        if pg:
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table(_TABLE)
