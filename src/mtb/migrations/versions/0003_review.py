"""review: claims, decisions, qualifications, quality samples, audit actions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mtb.db.engine

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('qualifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('catalog_version_id', sa.Integer(), nullable=False),
    sa.Column('disease_code', sa.String(length=64), nullable=False),
    sa.Column('hospital_code', sa.String(length=64), nullable=False),
    sa.Column('insurance_type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('effective_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('review_period_years', sa.Integer(), nullable=True),
    sa.Column('benefits', sa.JSON(), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_qualifications_application_id_applications')),
    sa.ForeignKeyConstraint(['catalog_version_id'], ['catalog_versions.id'], name=op.f('fk_qualifications_catalog_version_id_catalog_versions')),
    sa.ForeignKeyConstraint(['person_id'], ['insured_persons.id'], name=op.f('fk_qualifications_person_id_insured_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualifications')),
    sa.UniqueConstraint('application_id', name=op.f('uq_qualifications_application_id'))
    )
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qualifications_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qualifications_region_code'), ['region_code'], unique=False)
        batch_op.create_index('uq_qualifications_active_per_disease', ['person_id', 'disease_code'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('review_decisions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('material_verdicts', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reviewer_id', sa.Uuid(), nullable=False),
    sa.Column('decided_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_review_decisions_application_id_applications')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff_users.id'], name=op.f('fk_review_decisions_reviewer_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_decisions'))
    )
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decisions_application_id'), ['application_id'], unique=False)

    op.create_table('quality_samples',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('decision_id', sa.Uuid(), nullable=False),
    sa.Column('drawn_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('checked_by_id', sa.Uuid(), nullable=True),
    sa.Column('checked_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_quality_samples_application_id_applications')),
    sa.ForeignKeyConstraint(['checked_by_id'], ['staff_users.id'], name=op.f('fk_quality_samples_checked_by_id_staff_users')),
    sa.ForeignKeyConstraint(['decision_id'], ['review_decisions.id'], name=op.f('fk_quality_samples_decision_id_review_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_samples')),
    sa.UniqueConstraint('application_id', name=op.f('uq_quality_samples_application_id'))
    )
    with op.batch_alter_table('quality_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_samples_region_code'), ['region_code'], unique=False)

    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sa.String(length=32), nullable=False, server_default='status'))
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True))

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pending_approval_by_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_applications_pending_approval_by_id_staff_users'), 'staff_users', ['pending_approval_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_applications_claimed_by_id_staff_users'), 'staff_users', ['claimed_by_id'], ['id'])

    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verdict', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('verdict_comment', sa.String(length=500), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_column('verdict_comment')
        batch_op.drop_column('verdict')

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_applications_claimed_by_id_staff_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_applications_pending_approval_by_id_staff_users'), type_='foreignkey')
        batch_op.drop_column('pending_approval_by_id')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by_id')

    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.drop_column('detail')
        batch_op.drop_column('action')

    with op.batch_alter_table('quality_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_samples_region_code'))

    op.drop_table('quality_samples')
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_application_id'))

    op.drop_table('review_decisions')
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.drop_index('uq_qualifications_active_per_disease', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index(batch_op.f('ix_qualifications_region_code'))
        batch_op.drop_index(batch_op.f('ix_qualifications_person_id'))

    op.drop_table('qualifications')
