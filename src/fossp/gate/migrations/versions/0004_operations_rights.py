"""Accounts get an operations right beside their gate role, and can be disabled.

Gate admins, who managed the accounts until now, become administrators; every other
account becomes a viewer, so nobody gains the right to change servers by the upgrade.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("operations", sa.String(length=16), nullable=False, server_default="viewer"))
    op.add_column("users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE users SET operations = 'administrator' WHERE role = 'admin'")


def downgrade() -> None:
    op.drop_column("users", "disabled")
    op.drop_column("users", "operations")
