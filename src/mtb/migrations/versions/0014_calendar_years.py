"""calendar years: holiday schedules entered by an administrator; provisional due dates

A year no published schedule covers is counted on the statutory holidays (mtb/catalog/statutory.py) and
the due dates counted on it are provisional until an administrator enters the State Council's schedule.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mtb.db.engine

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'calendar_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('holidays', sa.JSON(), nullable=False),
        sa.Column('workdays', sa.JSON(), nullable=False),
        sa.Column('source', sa.String(length=500), nullable=False),
        sa.Column('entered_by', sa.String(length=200), nullable=False),
        sa.Column('entered_at', mtb.db.engine.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_date_provisional', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('due_date_provisional')
    op.drop_table('calendar_years')
