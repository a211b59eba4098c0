"""rendered documents: a credit note's files are stored once per version too (credit_note_id)

Revision ID: 0a1b2c3d4e19
Revises: 0a1b2c3d4e20
Create Date: 2026-12-02 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e19"
down_revision: str | None = "0a1b2c3d4e20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rendered_documents", sa.Column("credit_note_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "rendered_documents_credit_note_id_fkey", "rendered_documents", "credit_notes", ["credit_note_id"], ["id"]
    )
    op.create_index(
        op.f("ix_rendered_documents_credit_note_id"), "rendered_documents", ["credit_note_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rendered_documents_credit_note_id"), table_name="rendered_documents")
    op.drop_constraint("rendered_documents_credit_note_id_fkey", "rendered_documents", type_="foreignkey")
    op.drop_column("rendered_documents", "credit_note_id")
