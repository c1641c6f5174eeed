"""the uploads' outbox: every 进销存 fact for the insurance centre (3501–3507), written with its event

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

A new table, upload_outbox, and its guard: what a row says (its transaction, batch, quantity, amount, day and
document line) never changes and no row is deleted; its sending state moves only along its edges (an accepted
row goes back to pending only for a replay; a payload, frozen at the first send, changes only while the row is
rejected — a person's correction). Stock movements written before this revision have no outbox rows: a store
that upgrades with history replays them (`dingdian uploads replay --from DATE`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_IDENTITY = ('id', 'store_id', 'key', 'txn', 'inv_chg_type', 'inv_data_type', 'movement_id', 'ref_type', 'ref_id',
             'batch_id', 'item_id', 'qty', 'amount_fen', 'business_date', 'created_at', 'after_id', 'replaces_id')
_STATES = ('pending', 'sent', 'accepted', 'rejected', 'failed')


def _message(what: str) -> str:
    return (f"upload_outbox: 上传记录不可{'修改' if what == 'update' else '删除'}，更正须新增记录 / "
            f"the database refuses this {what.upper()} of upload_outbox: a correction is a new row (ST-02, ST-06)")


def _when_update(dialect: str) -> str:
    pg = dialect == "postgresql"
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" if pg else f"OLD.{c} IS NOT NEW.{c}" for c in _IDENTITY)
    payload_changed = ("OLD.payload::text IS DISTINCT FROM NEW.payload::text" if pg
                       else "OLD.payload IS NOT NEW.payload")
    empty = "'{}'"
    states = ", ".join(f"'{s}'" for s in _STATES)
    return (f"({changed})"
            f" OR NEW.state NOT IN ({states})"
            # accepted is final, but for a replay (back to pending)
            " OR (OLD.state = 'accepted' AND NEW.state NOT IN ('accepted', 'pending'))"
            # a frozen payload changes only as a person's correction of a rejected row
            f" OR (({payload_changed}) AND OLD.payload{'::text' if pg else ''} <> {empty} AND OLD.state <> 'rejected')")


def upgrade() -> None:
    from server.db.types import UTCDateTime

    s, i = sa.String, sa.Integer
    ts = UTCDateTime(timezone=True)
    op.create_table(
        'upload_outbox',
        sa.Column('id', i(), primary_key=True),
        sa.Column('store_id', i(), sa.ForeignKey('store.id'), nullable=False),
        sa.Column('key', s(80), nullable=False),
        sa.Column('txn', s(4), nullable=False),
        sa.Column('inv_chg_type', s(6), nullable=False),
        sa.Column('inv_data_type', s(2), nullable=False),
        sa.Column('movement_id', i(), nullable=True),
        sa.Column('ref_type', s(30), nullable=False),
        sa.Column('ref_id', s(40), nullable=False),
        sa.Column('batch_id', i(), sa.ForeignKey('batch.id'), nullable=False),
        sa.Column('item_id', i(), sa.ForeignKey('item.id'), nullable=False),
        sa.Column('qty', i(), nullable=False),
        sa.Column('amount_fen', i(), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('created_at', ts, nullable=False),
        sa.Column('after_id', i(), sa.ForeignKey('upload_outbox.id'), nullable=True),
        sa.Column('replaces_id', i(), sa.ForeignKey('upload_outbox.id'), nullable=True),
        sa.Column('state', s(10), nullable=False),
        sa.Column('attempts', i(), nullable=False),
        sa.Column('next_at', ts, nullable=False),
        sa.Column('msgid', s(30), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('last_error', s(500), nullable=False),
        sa.Column('centre_message', s(500), nullable=False),
        sa.Column('sent_at', ts, nullable=True),
        sa.Column('answered_at', ts, nullable=True),
        sa.UniqueConstraint('store_id', 'key'),
    )
    op.create_index('ix_upload_outbox_movement_id', 'upload_outbox', ['movement_id'])
    op.create_index('ix_upload_outbox_queue', 'upload_outbox', ['store_id', 'state', 'next_at'])
    op.create_index('ix_upload_outbox_day', 'upload_outbox', ['store_id', 'business_date', 'txn'])
    _guard(create=True)


def _guard(create: bool) -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for what, when in (("update", _when_update(dialect)), ("delete", "1 = 1")):
        name = f"guard_upload_outbox_{what}"
        if not create:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (" ON upload_outbox" if dialect == "postgresql" else ""))
            if dialect == "postgresql":
                bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
            continue
        if dialect == "postgresql":
            bind.exec_driver_sql(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $guard$ BEGIN "
                f"IF {when} THEN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = '{_message(what)}'; "
                f"END IF; RETURN {'NEW' if what == 'update' else 'OLD'}; END $guard$")
            bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON upload_outbox "
                                 f"FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE {what.upper()} ON upload_outbox FOR EACH ROW "
                                 f"WHEN {when} BEGIN SELECT RAISE(ABORT, '{_message(what)}'); END")


def downgrade() -> None:
    _guard(create=False)
    op.drop_table('upload_outbox')
