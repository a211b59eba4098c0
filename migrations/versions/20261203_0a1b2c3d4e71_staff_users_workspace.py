"""staff users belong to a workspace: staff_users.workspace_id (existing users: the first workspace), row security

Revision ID: 0a1b2c3d4e71
Revises: 0a1b2c3d4e61
Create Date: 2026-12-03 06:50:00

Every staff user signs in to one workspace's staff app (issue 13, issue 15.1). The column is added as
0a1b2c3d4e41 added it to the other workspace tables: NOT NULL with the first workspace as its server default
(every existing user was the first workspace's staff), a foreign key, an index, and the same two row-level
security policies on `billflow.workspace_id`. Sign-in finds a user before their workspace is known, so it reads
with the named bypass (`all`; billflow/services/users.py).

Email addresses stay unique across the installation (the existing constraint): sign-in and password resets take
an address alone, and it must name one account.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e71"
down_revision: str | None = "0a1b2c3d4e61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "staff_users"
SETTING = "current_setting('billflow.workspace_id', true)"
# The policies of 0a1b2c3d4e41, word for word: NULL, '' and 'all' match no workspace in the first.
IN_WORKSPACE = f"workspace_id = NULLIF(NULLIF({SETTING}, ''), 'all')::integer"
ALL_WORKSPACES = f"{SETTING} = 'all'"


def upgrade() -> None:
    # ADD COLUMN with a constant default fills every existing user at once: they were the first workspace's.
    op.add_column(TABLE, sa.Column("workspace_id", sa.Integer(), nullable=False, server_default=sa.text("1")))
    op.create_foreign_key(f"fk_{TABLE}_workspace_id", TABLE, "workspaces", ["workspace_id"], ["id"])
    op.create_index(op.f(f"ix_{TABLE}_workspace_id"), TABLE, ["workspace_id"], unique=False)
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY workspace_rows ON {TABLE} USING ({IN_WORKSPACE}) WITH CHECK ({IN_WORKSPACE})")
    op.execute(f"CREATE POLICY all_workspaces ON {TABLE} USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE workspace_id <> 1")).scalar_one():
        raise RuntimeError("staff users of other workspaces exist: downgrading would give them the first one's data")
    op.execute(f"DROP POLICY IF EXISTS all_workspaces ON {TABLE}")
    op.execute(f"DROP POLICY IF EXISTS workspace_rows ON {TABLE}")
    op.execute(f"ALTER TABLE {TABLE} DISABLE ROW LEVEL SECURITY")
    op.drop_index(op.f(f"ix_{TABLE}_workspace_id"), table_name=TABLE)
    op.drop_constraint(f"fk_{TABLE}_workspace_id", TABLE, type_="foreignkey")
    op.drop_column(TABLE, "workspace_id")
