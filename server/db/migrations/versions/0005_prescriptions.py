"""prescriptions: registry, prescriptions, reviews, scans; the sale's prescription

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('medical_institution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('admdvs', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('designated', sa.Boolean(), nullable=False),
    sa.Column('designated_until', sa.Date(), nullable=True),
    sa.Column('updated_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('store_id', 'code')
    )
    with op.batch_alter_table('medical_institution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_institution_store_id'), ['store_id'], unique=False)

    op.create_table('doctor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['medical_institution.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('store_id', 'institution_id', 'code')
    )
    with op.batch_alter_table('doctor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_doctor_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_doctor_store_id'), ['store_id'], unique=False)

    op.create_table('prescription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('rx_no', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('for_insurance', sa.Boolean(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('institution_code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('institution_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('doctor_code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('doctor_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('doctor_signed', sa.Boolean(), nullable=False),
    sa.Column('institution_sealed', sa.Boolean(), nullable=False),
    sa.Column('waipei_sealed', sa.Boolean(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('patient_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('patient_sex', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('patient_age', sa.Integer(), nullable=False),
    sa.Column('patient_certno', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('patient_psn_no', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('diagnosis', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('diagnosis_code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('course', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('original', sa.JSON(), nullable=True),
    sa.Column('entered_by', sa.Integer(), nullable=False),
    sa.Column('entered_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['institution_id'], ['medical_institution.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('store_id', 'institution_code', 'rx_no')
    )
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescription_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_issued_on'), ['issued_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_patient_name'), ['patient_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_store_id'), ['store_id'], unique=False)

    op.create_table('prescription_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('prescription_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('drug_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('dosage_form', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('split', sa.Boolean(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('dosage', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('frequency', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], ),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('prescription_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescription_line_prescription_id'), ['prescription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prescription_line_store_id'), ['store_id'], unique=False)

    op.create_table('rx_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('prescription_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rx_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rx_attachment_prescription_id'), ['prescription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rx_attachment_store_id'), ['store_id'], unique=False)

    op.create_table('rx_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('prescription_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('referred_to', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('pharmacist_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=True),
    sa.Column('dispenser_id', sa.Integer(), nullable=True),
    sa.Column('at', server.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dispenser_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['pharmacist_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['prescription_id'], ['prescription.id'], ),
    sa.ForeignKeyConstraint(['shift_id'], ['shift.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rx_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rx_review_prescription_id'), ['prescription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rx_review_store_id'), ['store_id'], unique=False)

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pharm_class', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False, server_default=''))

    with op.batch_alter_table('sale', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prescription_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sale_prescription_id'), ['prescription_id'], unique=False)
        batch_op.create_foreign_key('fk_sale_prescription_id', 'prescription', ['prescription_id'], ['id'])

    with op.batch_alter_table('sale_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rx_line_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sale_line_rx_line_id'), ['rx_line_id'], unique=False)
        batch_op.create_foreign_key('fk_sale_line_rx_line_id', 'prescription_line', ['rx_line_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('sale_line', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sale_line_rx_line_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sale_line_rx_line_id'))
        batch_op.drop_column('rx_line_id')

    with op.batch_alter_table('sale', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sale_prescription_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sale_prescription_id'))
        batch_op.drop_column('prescription_id')

    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('pharm_class')

    with op.batch_alter_table('rx_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rx_review_store_id'))
        batch_op.drop_index(batch_op.f('ix_rx_review_prescription_id'))

    op.drop_table('rx_review')
    with op.batch_alter_table('rx_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rx_attachment_store_id'))
        batch_op.drop_index(batch_op.f('ix_rx_attachment_prescription_id'))

    op.drop_table('rx_attachment')
    with op.batch_alter_table('prescription_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_line_store_id'))
        batch_op.drop_index(batch_op.f('ix_prescription_line_prescription_id'))

    op.drop_table('prescription_line')
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_store_id'))
        batch_op.drop_index(batch_op.f('ix_prescription_status'))
        batch_op.drop_index(batch_op.f('ix_prescription_patient_name'))
        batch_op.drop_index(batch_op.f('ix_prescription_issued_on'))
        batch_op.drop_index(batch_op.f('ix_prescription_institution_id'))

    op.drop_table('prescription')
    with op.batch_alter_table('doctor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_doctor_store_id'))
        batch_op.drop_index(batch_op.f('ix_doctor_institution_id'))

    op.drop_table('doctor')
    with op.batch_alter_table('medical_institution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_medical_institution_store_id'))

    op.drop_table('medical_institution')
