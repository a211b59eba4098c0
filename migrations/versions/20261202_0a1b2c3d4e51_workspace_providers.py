"""workspace providers: a workspace's connected Stripe account and sender email; the account a session is on

Revision ID: 0a1b2c3d4e51
Revises: 0a1b2c3d4e26
Create Date: 2026-12-02 21:00:00

Issue 13, item 4. workspaces.stripe_account_id: the workspace's Stripe Connect account (acct_...), on which its
Checkout Sessions and refunds are made and whose Connect webhooks are routed to it; unique, so an event's
`account` names one workspace. workspaces.sender_email: the From address of its emails (the installation's
BILLFLOW_FROM_EMAIL when unset). checkout_sessions.stripe_account: the account a session was created on (null:
the platform's own), so retrieving, expiring, reconciling and refunding it go to the same account even after the
workspace connects another one. Existing rows: no account (the platform, as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e51"
down_revision: str | None = "0a1b2c3d4e26"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("workspaces", sa.Column("stripe_account_id", sa.String(length=255), nullable=True))
    op.create_unique_constraint("uq_workspaces_stripe_account_id", "workspaces", ["stripe_account_id"])
    op.add_column("workspaces", sa.Column("sender_email", sa.String(length=320), nullable=True))
    op.add_column("checkout_sessions", sa.Column("stripe_account", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("checkout_sessions", "stripe_account")
    op.drop_column("workspaces", "sender_email")
    op.drop_constraint("uq_workspaces_stripe_account_id", "workspaces", type_="unique")
    op.drop_column("workspaces", "stripe_account_id")
