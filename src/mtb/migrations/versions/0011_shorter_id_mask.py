"""masked ID numbers show only their last four characters (issue 16: with the place of birth shown and
the birth date beside it, `110105********0021` could be completed)

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `110105********0021` → `**************0021`: the new mask shows a subset of the old, no key needed.
    op.execute("UPDATE insured_persons SET id_number_masked = '**************' || substr(id_number_masked, 15, 4) "
               "WHERE length(id_number_masked) = 18")


def downgrade() -> None:
    pass  # the place of birth is not kept in clear: re-import or `mtb keys rotate` would restore it
