"""the outbox knows each message's workspace: the relay takes turns over workspaces (fair share, issue 13)

Revision ID: 0a1b2c3d4e31
Revises: 0a1b2c3d4e26
Create Date: 2026-12-02 20:40:00

Messages written before this revision were all the first workspace's (the server default).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e31"
down_revision: str | None = "0a1b2c3d4e26"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "run_outbox",
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False, server_default="1"),
    )
    op.create_index("ix_run_outbox_workspace_id", "run_outbox", ["workspace_id"])
    # The relay's fair-share claim: each workspace's oldest owed messages.
    op.create_index(
        "ix_run_outbox_pending_by_workspace",
        "run_outbox",
        ["workspace_id", "id"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_run_outbox_pending_by_workspace", table_name="run_outbox")
    op.drop_index("ix_run_outbox_workspace_id", table_name="run_outbox")
    op.drop_column("run_outbox", "workspace_id")
