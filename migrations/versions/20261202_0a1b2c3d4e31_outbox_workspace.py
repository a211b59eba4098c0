"""the outbox knows each message's workspace: the relay takes turns over workspaces (fair share, issue 13)

Revision ID: 0a1b2c3d4e31
Revises: 0a1b2c3d4e41
Create Date: 2026-12-02 20:40:00

Messages written before this revision were all the first workspace's (the server default). Row-level security
covers the outbox like every workspace table (0a1b2c3d4e41's policies): the relay runs in 'all'.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e31"
down_revision: str | None = "0a1b2c3d4e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTING = "current_setting('billflow.workspace_id', true)"
IN_WORKSPACE = f"workspace_id = NULLIF(NULLIF({SETTING}, ''), 'all')::integer"
ALL_WORKSPACES = f"{SETTING} = 'all'"


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
    op.execute("ALTER TABLE run_outbox ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY workspace_rows ON run_outbox USING ({IN_WORKSPACE}) WITH CHECK ({IN_WORKSPACE})")
    op.execute(f"CREATE POLICY all_workspaces ON run_outbox USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})")


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS all_workspaces ON run_outbox")
    op.execute("DROP POLICY IF EXISTS workspace_rows ON run_outbox")
    op.execute("ALTER TABLE run_outbox DISABLE ROW LEVEL SECURITY")
    op.drop_index("ix_run_outbox_pending_by_workspace", table_name="run_outbox")
    op.drop_index("ix_run_outbox_workspace_id", table_name="run_outbox")
    op.drop_column("run_outbox", "workspace_id")
