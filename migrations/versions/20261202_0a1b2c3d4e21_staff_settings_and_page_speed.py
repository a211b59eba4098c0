"""staff app settings: the business profile table, integration secret rotation and delivery senders; indexes
that keep the staff app's pages under 300 ms at 1M invoices

Revision ID: 0a1b2c3d4e21
Revises: 0a1b2c3d4e22
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0a1b2c3d4e21"
down_revision: str | None = "0a1b2c3d4e22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_UNSETTLED = "status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"
_FAILED_EMAIL = "status IN ('failed', 'bounced', 'dropped', 'spam', 'unknown')"


def upgrade() -> None:
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
    op.add_column("integrations", sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("booking_events", sa.Column("sent_by", _str(length=200), nullable=True))
    op.create_index("ix_booking_events_integration_id", "booking_events", ["integration", "id"], unique=False)
    # Page speed at 1M invoices (bench/app_pages.py): each index says its reason in the model that declares it.
    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _str(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("zone", _str(length=64), nullable=False),
        sa.Column("params", _str(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payments_max_id", sa.Integer(), nullable=False),
        sa.Column("credit_notes_max_id", sa.Integer(), nullable=False),
        sa.Column("invoices_max_id", sa.Integer(), nullable=False),
        sa.Column("email_messages_max_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "as_of", "zone", "params"),
    )
    op.create_index(
        "ix_invoices_receivable_cover",
        "invoices",
        ["issued_at"],
        postgresql_where=sa.text(_UNSETTLED),
        postgresql_include=["id", "client_id", "currency", "due_at", "total_minor", "credited_minor", "amount_paid_minor"],
    )
    op.create_index("ix_invoices_currency_due_id", "invoices", ["currency", "due_date", "id"])
    # DSO's sales filter on the issue instant too: covered, the scan stays index-only.
    op.drop_index("ix_invoices_issue_date_cover", table_name="invoices")
    op.create_index(
        "ix_invoices_issue_date_cover",
        "invoices",
        ["issue_date"],
        postgresql_include=["currency", "total_minor", "status", "issued_at"],
    )
    op.create_index(
        "ix_email_messages_failed", "email_messages", ["updated_at"], postgresql_where=sa.text(_FAILED_EMAIL)
    )
    op.create_index("ix_clients_name_id", "clients", ["name", "id"])
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # trusted: a database owner may create it
    for column in ("name", "email", "external_id"):
        op.create_index(
            f"ix_clients_{column}_trgm",
            "clients",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for column in ("name", "email", "external_id"):
        op.drop_index(f"ix_clients_{column}_trgm", table_name="clients")
    op.drop_index("ix_clients_name_id", table_name="clients")
    op.drop_index("ix_email_messages_failed", table_name="email_messages")
    op.drop_index("ix_invoices_currency_due_id", table_name="invoices")
    op.drop_index("ix_invoices_issue_date_cover", table_name="invoices")
    op.create_index(
        "ix_invoices_issue_date_cover", "invoices", ["issue_date"], postgresql_include=["currency", "total_minor", "status"]
    )
    op.drop_index("ix_invoices_receivable_cover", table_name="invoices")
    op.drop_table("report_snapshots")
    op.drop_index("ix_booking_events_integration_id", table_name="booking_events")
    op.drop_column("booking_events", "sent_by")
    op.drop_column("integrations", "secret_rotated_at")
    op.drop_table("business_profiles")
