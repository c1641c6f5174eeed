"""one live card settlement per sale

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('card_settlement', schema=None) as batch_op:
        batch_op.create_index('ux_card_settlement_live', ['sale_id'], unique=True, sqlite_where=sa.text("status IN ('intent', 'uncertain', 'settled')"), postgresql_where=sa.text("status IN ('intent', 'uncertain', 'settled')"))



def downgrade() -> None:
    with op.batch_alter_table('card_settlement', schema=None) as batch_op:
        batch_op.drop_index('ux_card_settlement_live', sqlite_where=sa.text("status IN ('intent', 'uncertain', 'settled')"), postgresql_where=sa.text("status IN ('intent', 'uncertain', 'settled')"))

