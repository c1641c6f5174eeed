"""electronic 外配处方 from the insurance platform: the downloads as received and the reviews it took (issue #23)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07

New tables only. eprx_download keeps each 7203 download whole, as received, with the platform's SM2 signature and
whether it verified; eprx_review_upload each pharmacist's review as the platform took it (7204, its
rx_chk_biz_sn). Both are evidence written once (RX-08): the database refuses an UPDATE or DELETE of either. The
sale reported to the platform (7206/7207, 7208 on a return) rides the uploads' outbox (0025): no table of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

_TABLES = ('eprx_download', 'eprx_review_upload')


def _message(table: str, what: str) -> str:
    return (f"{table}: 电子处方记录不可{'修改' if what == 'update' else '删除'} / "
            f"the database refuses this {what.upper()} of {table}: kept as received (RX-08)")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i, ts = sa.String, sa.Integer, UTCDateTime(timezone=True)

    def store() -> sa.Column[int]:
        return sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False, index=True)

    def user(name: str) -> sa.Column[int]:
        return sa.Column(name, i(), sa.ForeignKey('app_user.id'), nullable=False)

    def rx() -> sa.Column[int]:
        return sa.Column('prescription_id', i(), sa.ForeignKey('prescription.id'), nullable=False, index=True)

    op.create_table('eprx_download',
        sa.Column('id', i(), primary_key=True), store(), rx(),
        sa.Column('hi_rxno', s(length=50), nullable=False),
        sa.Column('scanned', s(length=60), nullable=False),
        sa.Column('msgid', s(length=30), nullable=False),
        sa.Column('variant', s(length=12), nullable=False),
        sa.Column('signtype', s(length=10), nullable=False),
        sa.Column('signdata', s(length=300), nullable=False),
        sa.Column('sign_verified', sa.Boolean(), nullable=False),
        sa.Column('sha256', s(length=64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        user('received_by'), sa.Column('received_at', ts, nullable=False),
        sa.UniqueConstraint('store_id', 'hi_rxno'))
    op.create_table('eprx_review_upload',
        sa.Column('id', i(), primary_key=True), store(), rx(),
        sa.Column('review_id', i(), sa.ForeignKey('rx_review.id'), nullable=False, unique=True),
        sa.Column('verdict', s(length=12), nullable=False),
        sa.Column('msgid', s(length=30), nullable=False),
        sa.Column('rx_chk_biz_sn', s(length=40), nullable=False),
        user('uploaded_by'), sa.Column('uploaded_at', ts, nullable=False))
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
