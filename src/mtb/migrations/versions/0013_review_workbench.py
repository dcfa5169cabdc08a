"""review workbench: the queue's search (name, last four of the ID number) and the reviewer's own counts

- insured_persons.id_number_last4, filled from the masked form (which shows the same four characters),
  with ix_insured_persons_last4;
- ix_insured_persons_name for a name or its beginning: on PostgreSQL on `name COLLATE "C"`, so that a
  prefix is one range of the index whatever the database's collation (the queue asks with the same
  collation); on SQLite the default BINARY collation is already code-point order;
- ix_review_decisions_reviewer_day (reviewer_id, decided_at): "decided today" on the queue page;
- ix_applications_claimed_by (claimed_by_id) for held claims only: "held now".

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMED = sa.text("claimed_by_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('insured_persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_last4', sa.String(length=4), server_default='', nullable=False))
    op.execute("UPDATE insured_persons SET id_number_last4 = upper(substr(id_number_masked, 15, 4)) "
               "WHERE length(id_number_masked) = 18 AND substr(id_number_masked, 15, 4) NOT LIKE '%*%'")
    op.create_index('ix_insured_persons_last4', 'insured_persons', ['id_number_last4'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_insured_persons_name ON insured_persons ((name COLLATE "C"))')
    else:
        op.create_index('ix_insured_persons_name', 'insured_persons', ['name'])
    op.create_index('ix_review_decisions_reviewer_day', 'review_decisions', ['reviewer_id', 'decided_at'])
    op.create_index('ix_applications_claimed_by', 'applications', ['claimed_by_id'],
                    sqlite_where=_CLAIMED, postgresql_where=_CLAIMED)


def downgrade() -> None:
    op.drop_index('ix_applications_claimed_by', table_name='applications')
    op.drop_index('ix_review_decisions_reviewer_day', table_name='review_decisions')
    op.drop_index('ix_insured_persons_name', table_name='insured_persons')
    op.drop_index('ix_insured_persons_last4', table_name='insured_persons')
    with op.batch_alter_table('insured_persons', schema=None) as batch_op:
        batch_op.drop_column('id_number_last4')
