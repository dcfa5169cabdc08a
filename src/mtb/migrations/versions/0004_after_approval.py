"""after approval: application kinds, qualification history, reminders, hospital keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mtb.db.engine

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hospital_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hospital_code', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hospital_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_hospital_keys_key_hash'))
    )
    with op.batch_alter_table('hospital_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hospital_keys_hospital_code'), ['hospital_code'], unique=False)

    op.create_table('qualification_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('qualification_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'], name=op.f('fk_qualification_events_qualification_id_qualifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_events'))
    )
    with op.batch_alter_table('qualification_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qualification_events_qualification_id'), ['qualification_id'], unique=False)

    op.create_table('reminders_sent',
    sa.Column('qualification_id', sa.Uuid(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('sent_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'], name=op.f('fk_reminders_sent_qualification_id_qualifications')),
    sa.PrimaryKeyConstraint('qualification_id', 'days_before', name=op.f('pk_reminders_sent'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='new', nullable=False))
        batch_op.add_column(sa.Column('qualification_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_applications_qualification_id_qualifications'), 'qualifications', ['qualification_id'], ['id'])

    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('replaced_by_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_qualifications_replaced_by_id_qualifications'), 'qualifications', ['replaced_by_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_qualifications_replaced_by_id_qualifications'), type_='foreignkey')
        batch_op.drop_column('replaced_by_id')
        batch_op.drop_column('ended_on')

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_applications_qualification_id_qualifications'), type_='foreignkey')
        batch_op.drop_column('qualification_id')
        batch_op.drop_column('kind')

    op.drop_table('reminders_sent')
    with op.batch_alter_table('qualification_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qualification_events_qualification_id'))

    op.drop_table('qualification_events')
    with op.batch_alter_table('hospital_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hospital_keys_hospital_code'))

    op.drop_table('hospital_keys')
