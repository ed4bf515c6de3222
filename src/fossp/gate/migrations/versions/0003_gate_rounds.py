"""Gate rounds keep their requirements: a snapshot per round, taken when it opens.

Rounds already open when a database is upgraded are given the requirements of the
process data in force at the upgrade, which is what they were measured against until now.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from fossp.gate.process import load_process

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gate_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id", "phase", "round"),
    )
    _snapshot_open_rounds()


def _snapshot_open_rounds() -> None:
    process = load_process()
    keys = [p.key for p in process.phases]
    connection = op.get_bind()
    apps = connection.execute(sa.text("SELECT id, phase, round FROM applications")).all()
    for app_id, phase, round_ in apps:
        following = 0 if phase is None else keys.index(phase) + 1
        if following >= len(keys):
            continue
        gate = process.gate(keys[following])
        connection.execute(
            sa.text(
                "INSERT INTO gate_rounds (application_id, phase, round, requirements, opened_at) "
                "VALUES (:app, :phase, :round, :requirements, CURRENT_TIMESTAMP)"
            ),
            {"app": app_id, "phase": gate.phase, "round": round_, "requirements": gate.model_dump_json()},
        )


def downgrade() -> None:
    op.drop_table("gate_rounds")
