"""Proposers maintain their applications: rights now follow application maintainers.

The application_maintainers table exists since 0001 but granted nothing; now an account
with the maintainer role changes only the applications it maintains, so every existing
proposer is made a maintainer of its application (as ``propose`` does from now on).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO application_maintainers (application_id, user_id) "
        "SELECT a.id, a.proposed_by_id FROM applications a WHERE NOT EXISTS ("
        "SELECT 1 FROM application_maintainers m "
        "WHERE m.application_id = a.id AND m.user_id = a.proposed_by_id)"
    )


def downgrade() -> None:
    """Nothing to undo: the rows are valid maintainers under 0001 too."""
