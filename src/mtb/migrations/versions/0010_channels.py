"""channels: registered channels with their public keys, and the assertion ids they have used

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mtb.db.engine

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('channels',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('catalog_channel', sa.String(length=64), nullable=True),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('code', name=op.f('uq_channels_code'))
    )
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channels_region_code'), ['region_code'], unique=False)

    op.create_table('channel_assertions',
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('expires_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_assertions_channel_id_channels'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'jti', name=op.f('pk_channel_assertions'))
    )
    with op.batch_alter_table('channel_assertions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_assertions_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channel_assertions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_assertions_expires_at'))
    op.drop_table('channel_assertions')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channels_region_code'))
    op.drop_table('channels')
