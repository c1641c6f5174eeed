"""whether each backup was sealed (SEC-05, SEC-06)

Revision ID: 0035
Revises: 0033
Create Date: 2026-12-08

backup_run.sealed: the backup was written encrypted with the store's key ([backup] key_file). A clear backup holds
the insured persons' whole identity numbers; the checklist asks a person to confirm where clear backups are kept.
Every backup recorded before this revision was taken without the record saying: false (the model's default, which
audit verify accepts for an image that lacks the column). A plain ADD COLUMN: the table keeps its append-only guards
(a batch rebuild on SQLite would drop its triggers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0035'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('backup_run', sa.Column('sealed', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('backup_run') as batch:
        batch.drop_column('sealed')
