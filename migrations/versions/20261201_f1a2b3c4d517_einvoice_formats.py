"""e-invoices: each client's document format and buyer reference; rendered documents, stored once per version

Revision ID: f1a2b3c4d517
Revises: d1e2f3a4b515
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f1a2b3c4d517"
down_revision: str | None = "d1e2f3a4b515"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("einvoice_format", sa.String(length=20), nullable=False, server_default="pdf"))
    op.add_column("clients", sa.Column("buyer_reference", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
    op.create_table(
        "rendered_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "kind", "content_hash"),
    )
    op.create_index(op.f("ix_rendered_documents_invoice_id"), "rendered_documents", ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rendered_documents_invoice_id"), table_name="rendered_documents")
    op.drop_table("rendered_documents")
    op.drop_column("clients", "buyer_reference")
    op.drop_column("clients", "einvoice_format")
