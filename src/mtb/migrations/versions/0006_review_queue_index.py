"""review queue index: the region's submitted and in-review applications in queue order

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUE = sa.text("status IN ('submitted', 'in_review')")  # as the queue query spells it (SQLite matches terms)


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index('ix_applications_review_queue', ['region_code', 'due_date', 'submitted_at', 'id'],
                              unique=False, sqlite_where=_QUEUE, postgresql_where=_QUEUE)


def downgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_review_queue', sqlite_where=_QUEUE, postgresql_where=_QUEUE)
