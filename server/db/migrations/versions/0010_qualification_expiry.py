"""a pharmacist's qualification expiry (STAFF-01)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qualification_expiry', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_profile', schema=None) as batch_op:
        batch_op.drop_column('qualification_expiry')
