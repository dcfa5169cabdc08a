"""pre-review: findings per material; decisions made by a rule (the fast track)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mtb.db.engine

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('material_prereviews',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('material_id', sa.Uuid(), nullable=True),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True),
    sa.Column('engine', sa.String(length=64), nullable=True),
    sa.Column('readable', sa.Boolean(), nullable=True),
    sa.Column('extracted', sa.JSON(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'],
                            name=op.f('fk_material_prereviews_application_id_applications')),
    sa.ForeignKeyConstraint(['material_id'], ['materials.id'], ondelete='SET NULL',
                            name=op.f('fk_material_prereviews_material_id_materials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_prereviews')),
    sa.UniqueConstraint('material_id', name=op.f('uq_material_prereviews_material_id'))
    )
    with op.batch_alter_table('material_prereviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_prereviews_application_id'), ['application_id'],
                              unique=False)
        batch_op.create_index('ix_material_prereviews_pending', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_material_prereviews_reuse', ['application_id', 'sha256', 'kind'],
                              unique=False)

    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule', sa.String(length=200), nullable=True))
        batch_op.alter_column('reviewer_id', existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.alter_column('reviewer_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column('rule')

    with op.batch_alter_table('material_prereviews', schema=None) as batch_op:
        batch_op.drop_index('ix_material_prereviews_reuse')
        batch_op.drop_index('ix_material_prereviews_pending')
        batch_op.drop_index(batch_op.f('ix_material_prereviews_application_id'))

    op.drop_table('material_prereviews')
