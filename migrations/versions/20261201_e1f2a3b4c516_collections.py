"""collections: client answers, reference rates, portal links, invoice interest terms; processing and disputed count as unsettled

Revision ID: e1f2a3b4c516
Revises: c1d2e3f4a514
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e1f2a3b4c516"
down_revision: str | None = "c1d2e3f4a514"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# credited_minor: added by c1d2e3f4a514 (credit notes), which runs first.
_INCLUDE = ["client_id", "currency", "total_minor", "amount_paid_minor", "issue_date", "status", "credited_minor"]
_OLD = "status IN ('open', 'partially_paid', 'overdue')"
_NEW = "status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"


def _unsettled_index(where: str) -> None:
    op.drop_index("ix_invoices_unsettled_due", table_name="invoices")
    op.create_index(
        "ix_invoices_unsettled_due",
        "invoices",
        ["due_date", "id"],
        unique=False,
        postgresql_where=sa.text(where),
        postgresql_include=_INCLUDE,
    )


def upgrade() -> None:
    op.create_table(
        "client_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("answer_id"),
    )
    op.create_index("ix_client_answers_invoice_time", "client_answers", ["invoice_id", "created_at"], unique=False)
    op.create_table(
        "reference_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rate", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rate", "valid_from", name="uq_reference_rates_rate_from"),
    )
    op.create_table(
        "portal_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_portal_links_client_id"), "portal_links", ["client_id"], unique=False)
    op.add_column("invoices", sa.Column("interest_terms", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    _unsettled_index(_NEW)


def downgrade() -> None:
    _unsettled_index(_OLD)
    op.drop_column("invoices", "interest_terms")
    op.drop_index(op.f("ix_portal_links_client_id"), table_name="portal_links")
    op.drop_table("portal_links")
    op.drop_table("reference_rates")
    op.drop_index("ix_client_answers_invoice_time", table_name="client_answers")
    op.drop_table("client_answers")
