"""case numbers: applications.case_number (受理编号, given at first submission) and its per-day counter

Applications submitted before this migration keep a NULL case number (their pages and the API show none);
the counter table holds one row per prefix and local business day.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'case_number_counters',
        sa.Column('prefix', sa.String(length=8), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('prefix', 'day', name=op.f('pk_case_number_counters')),
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_number', sa.String(length=32), nullable=True))
        batch_op.create_index('uq_applications_case_number', ['case_number'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('uq_applications_case_number')
        batch_op.drop_column('case_number')
    op.drop_table('case_number_counters')
