"""The catalog changes only by a decision: catalog_changes records each role's status as
a go set it; new roles can be proposed (application_roles.new) and their files kept as
delivered (deliverables.content).

Until now a role's status followed the phase of any application naming it. From now on
only a go into a phase that sets a status (Launch, Service Removal) changes it, so the
go decisions already recorded into such phases are written as the changes they were.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from fossp.gate.process import load_process

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("application_roles", sa.Column("new", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("deliverables", sa.Column("content", sa.Text(), nullable=True))
    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("installed", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"]),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_catalog_changes_role_id", "catalog_changes", ["role_id"])
    _record_past_changes()


def _record_past_changes() -> None:
    setting = {p.key: p.go_sets_status.value for p in load_process().phases if p.go_sets_status is not None}
    connection = op.get_bind()
    decisions = connection.execute(
        sa.text(
            "SELECT d.id, d.application_id, d.phase, d.created_at, r.role_id FROM decisions d "
            "JOIN application_roles r ON r.application_id = d.application_id "
            "WHERE d.outcome = 'go' ORDER BY d.id, r.role_id"
        )
    ).all()
    for decision_id, app_id, phase, at, role_id in decisions:
        if phase in setting:
            connection.execute(
                sa.text(
                    "INSERT INTO catalog_changes (role_id, status, application_id, decision_id, installed, at) "
                    "VALUES (:role, :status, :app, :decision, '[]', :at)"
                ),
                {"role": role_id, "status": setting[phase], "app": app_id, "decision": decision_id, "at": at},
            )


def downgrade() -> None:
    op.drop_index("ix_catalog_changes_role_id", table_name="catalog_changes")
    op.drop_table("catalog_changes")
    with op.batch_alter_table("deliverables") as batch:
        batch.drop_column("content")
    with op.batch_alter_table("application_roles") as batch:
        batch.drop_column("new")
