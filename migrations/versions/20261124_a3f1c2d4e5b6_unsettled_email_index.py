"""unsettled emails: a partial index for the unsettled-email sweep

Revision ID: a3f1c2d4e5b6
Revises: 875c76ac7ecd
Create Date: 2026-11-24 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f1c2d4e5b6"
down_revision: str | None = "875c76ac7ecd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_email_messages_unsettled",
        "email_messages",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('unknown', 'claimed')"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_email_messages_unsettled",
        table_name="email_messages",
        postgresql_where=sa.text("status IN ('unknown', 'claimed')"),
    )
