"""workspace own Stripe keys: a workspace's sealed secret key and webhook secret; the keys a session was made with

Revision ID: 0a1b2c3d4e61
Revises: 0a1b2c3d4e6b
Create Date: 2026-12-03 07:00:00

Issue 13, item 4 ("or its own keys"). workspaces.stripe_secret_key_sealed / stripe_webhook_secret_sealed: the
workspace's own Stripe secret key and webhook signing secret, sealed with the codec's keys
(billflow/secret_box.py), and *_hint: what is shown of them (`sk_live_...a1B2`). checkout_sessions
.stripe_keys_workspace_id: the workspace whose own keys created the session (null: the installation's keys or a
Connect account, as before), so retrieving, expiring, reconciling and refunding it use the same keys later.
Existing rows: no own keys (nothing changes for them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e61"
down_revision: str | None = "0a1b2c3d4e6b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN = ("stripe_secret_key", "stripe_webhook_secret")


def upgrade() -> None:
    for name in OWN:
        op.add_column("workspaces", sa.Column(f"{name}_sealed", sa.String(length=1000), nullable=True))
        op.add_column("workspaces", sa.Column(f"{name}_hint", sa.String(length=40), nullable=True))
    op.add_column("checkout_sessions", sa.Column("stripe_keys_workspace_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("checkout_sessions", "stripe_keys_workspace_id")
    for name in reversed(OWN):
        op.drop_column("workspaces", f"{name}_hint")
        op.drop_column("workspaces", f"{name}_sealed")
