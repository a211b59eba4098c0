"""refunds: which payment a refund gives money back from; the events flagged for a refund decision

Revision ID: 0a1b2c3d4e20
Revises: 0a1b2c3d4e21
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e20"
down_revision: str | None = "0a1b2c3d4e21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("refund_of_payment_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "payments_refund_of_payment_id_fkey", "payments", "payments", ["refund_of_payment_id"], ["id"]
    )
    op.create_index(op.f("ix_payments_refund_of_payment_id"), "payments", ["refund_of_payment_id"], unique=False)
    op.create_index(
        "ix_timeline_refund_decisions",
        "timeline_events",
        ["occurred_at"],
        unique=False,
        postgresql_where=sa.text("(data ->> 'flag') = 'refund_decision'"),
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_refund_decisions", table_name="timeline_events")
    op.drop_index(op.f("ix_payments_refund_of_payment_id"), table_name="payments")
    op.drop_constraint("payments_refund_of_payment_id_fkey", "payments", type_="foreignkey")
    op.drop_column("payments", "refund_of_payment_id")
