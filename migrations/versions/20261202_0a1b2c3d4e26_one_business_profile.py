"""one business profile: the staff app's saved profile moves into workspace 1; business_profiles goes

Revision ID: 0a1b2c3d4e26
Revises: 0a1b2c3d4e24
Create Date: 2026-12-02 18:30:00

Two stores held the seller: business_profiles (Settings > Business profile) and workspaces (issue 13). The
workspace is the one store from here on. A saved 'default' profile was the seller of new invoices, so it wins
over what the settings built into workspace 1; its sender name was the printed name, so it is the name too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0a1b2c3d4e26"
down_revision: str | None = "0a1b2c3d4e24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
# Columns of the same name and meaning in both tables.
_SAME = (
    "legal_name", "address_line1", "postcode", "city", "country", "vat_id", "iban", "bic", "sender_name",
    "reply_to", "default_currency", "reporting_timezone", "payment_terms_days", "invoice_footer",
)  # fmt: skip


def upgrade() -> None:
    assignments = ", ".join(f"{name} = b.{name}" for name in _SAME)
    op.execute(
        f"""
        UPDATE workspaces AS w SET {assignments}, name = b.sender_name,
            logo = COALESCE(b.logo, w.logo), logo_type = CASE WHEN b.logo IS NULL THEN w.logo_type ELSE b.logo_type END,
            updated_at = GREATEST(w.updated_at, b.updated_at)
        FROM business_profiles AS b
        WHERE w.id = 1 AND b.workspace = 'default'
        """  # noqa: S608  (column names are the constants above)
    )
    op.drop_table("business_profiles")


def downgrade() -> None:
    op.create_table(
        "business_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace", _str(length=64), nullable=False),
        sa.Column("legal_name", _str(length=200), nullable=False),
        sa.Column("address_line1", _str(length=200), nullable=True),
        sa.Column("postcode", _str(length=20), nullable=True),
        sa.Column("city", _str(length=100), nullable=True),
        sa.Column("country", _str(length=2), nullable=True),
        sa.Column("vat_id", _str(length=20), nullable=True),
        sa.Column("iban", _str(length=34), nullable=True),
        sa.Column("bic", _str(length=11), nullable=True),
        sa.Column("sender_name", _str(length=200), nullable=False),
        sa.Column("reply_to", _str(length=254), nullable=True),
        sa.Column("default_currency", _str(length=3), nullable=False),
        sa.Column("reporting_timezone", _str(length=64), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("invoice_footer", _str(length=1000), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", _str(length=20), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", _str(length=254), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace"),
    )
    # Workspace 1 back as the saved profile, so the older code keeps the seller it now has.
    columns = ", ".join(_SAME)
    op.execute(
        f"""
        INSERT INTO business_profiles (workspace, {columns}, logo, logo_type, updated_at)
        SELECT 'default', {", ".join(f"COALESCE({n}, name)" if n in ("legal_name", "sender_name") else n for n in _SAME)},
            logo, logo_type, updated_at
        FROM workspaces WHERE id = 1
        """  # noqa: S608
    )
