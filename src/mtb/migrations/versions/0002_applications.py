"""applications, materials, notifications, cross-region filings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mtb.db.engine

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('catalog_version_id', sa.Integer(), nullable=False),
    sa.Column('disease_code', sa.String(length=64), nullable=False),
    sa.Column('hospital_code', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('laterality', sa.String(length=64), nullable=True),
    sa.Column('beneficiary_id', sa.Uuid(), nullable=False),
    sa.Column('submitter_person_id', sa.Uuid(), nullable=True),
    sa.Column('submitter_staff_id', sa.Uuid(), nullable=True),
    sa.Column('relation', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('submitted_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['insured_persons.id'], name=op.f('fk_applications_beneficiary_id_insured_persons')),
    sa.ForeignKeyConstraint(['catalog_version_id'], ['catalog_versions.id'], name=op.f('fk_applications_catalog_version_id_catalog_versions')),
    sa.ForeignKeyConstraint(['submitter_person_id'], ['insured_persons.id'], name=op.f('fk_applications_submitter_person_id_insured_persons')),
    sa.ForeignKeyConstraint(['submitter_staff_id'], ['staff_users.id'], name=op.f('fk_applications_submitter_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_beneficiary_id'), ['beneficiary_id'], unique=False)
        batch_op.create_index('ix_applications_region_status_due', ['region_code', 'status', 'due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_submitter_person_id'), ['submitter_person_id'], unique=False)
        batch_op.create_index('uq_applications_open_per_disease', ['beneficiary_id', 'disease_code'], unique=True, sqlite_where=sa.text("status IN ('draft', 'in_review', 'returned', 'submitted')"), postgresql_where=sa.text("status IN ('draft', 'in_review', 'returned', 'submitted')"))

    op.create_table('cross_region_filings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('insured_region_code', sa.String(length=6), nullable=False),
    sa.Column('treatment_region_code', sa.String(length=6), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['insured_persons.id'], name=op.f('fk_cross_region_filings_person_id_insured_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cross_region_filings'))
    )
    with op.batch_alter_table('cross_region_filings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cross_region_filings_person_id'), ['person_id'], unique=False)

    op.create_table('application_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_events_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_events'))
    )
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_events_application_id'), ['application_id'], unique=False)

    op.create_table('idempotent_responses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_idempotent_responses_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_responses')),
    sa.UniqueConstraint('application_id', 'action', 'key', name=op.f('uq_idempotent_responses_application_id_action_key'))
    )
    op.create_table('materials',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=120), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('uploaded_by_kind', sa.String(length=16), nullable=False),
    sa.Column('uploaded_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_materials_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_materials'))
    )
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_materials_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_materials_sha256'), ['sha256'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_notifications_application_id_applications')),
    sa.ForeignKeyConstraint(['person_id'], ['insured_persons.id'], name=op.f('fk_notifications_person_id_insured_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_person_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_materials_sha256'))
        batch_op.drop_index(batch_op.f('ix_materials_application_id'))

    op.drop_table('materials')
    op.drop_table('idempotent_responses')
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_events_application_id'))

    op.drop_table('application_events')
    with op.batch_alter_table('cross_region_filings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cross_region_filings_person_id'))

    op.drop_table('cross_region_filings')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('uq_applications_open_per_disease', sqlite_where=sa.text("status IN ('draft', 'in_review', 'returned', 'submitted')"), postgresql_where=sa.text("status IN ('draft', 'in_review', 'returned', 'submitted')"))
        batch_op.drop_index(batch_op.f('ix_applications_submitter_person_id'))
        batch_op.drop_index('ix_applications_region_status_due')
        batch_op.drop_index(batch_op.f('ix_applications_beneficiary_id'))

    op.drop_table('applications')
