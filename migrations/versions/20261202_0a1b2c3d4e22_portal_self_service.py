"""portal self-service: single-use links asked for on the sign-in page, their browsing links, the requests counted

Revision ID: 0a1b2c3d4e22
Revises: f1a2b3c4d517
Create Date: 2026-12-02 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0a1b2c3d4e22"
down_revision: str | None = "f1a2b3c4d517"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("portal_links", sa.Column("single_use", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.alter_column("portal_links", "single_use", server_default=None)
    op.add_column("portal_links", sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("portal_links", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.create_foreign_key("portal_links_parent_id_fkey", "portal_links", "portal_links", ["parent_id"], ["id"])
    op.create_index(op.f("ix_portal_links_parent_id"), "portal_links", ["parent_id"], unique=False)
    op.create_table(
        "portal_link_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_link_requests_email_at", "portal_link_requests", ["email_hash", "at"], unique=False)
    op.create_index("ix_portal_link_requests_address_at", "portal_link_requests", ["address", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_portal_link_requests_address_at", table_name="portal_link_requests")
    op.drop_index("ix_portal_link_requests_email_at", table_name="portal_link_requests")
    op.drop_table("portal_link_requests")
    op.drop_index(op.f("ix_portal_links_parent_id"), table_name="portal_links")
    op.drop_constraint("portal_links_parent_id_fkey", "portal_links", type_="foreignkey")
    op.drop_column("portal_links", "parent_id")
    op.drop_column("portal_links", "used_at")
    op.drop_column("portal_links", "single_use")
