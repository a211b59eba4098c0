"""documents: seller/buyer snapshots, tax categories, credit notes, deposits; issued content frozen by triggers

Revision ID: c1d2e3f4a514
Revises: b1c2d3e4f511
Create Date: 2026-12-01 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c1d2e3f4a514"
down_revision: str | None = "b1c2d3e4f511"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What an issued invoice says. Status, payment, reminder and due-date columns stay updatable (the workflow
# moves them); service_date too, for Cal.com reschedules (see docs/documents.md).
INVOICE_CONTENT = (
    "number", "source_key", "workflow_id", "client_id", "currency", "subtotal_minor", "tax_minor", "total_minor",
    "issue_date", "issued_at", "timezone", "public_token", "period_start", "period_end", "subscription_id", "memo",
    "kind", "seller", "buyer", "tax_breakdown", "payment_means", "deposit_invoice_id", "booking",
)  # fmt: skip

FROZEN_FUNCTIONS = f"""
CREATE FUNCTION billflow_refuse_issued_invoice_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in INVOICE_CONTENT)} THEN
        RAISE EXCEPTION 'invoice % is issued: its content cannot change (issue a credit note)', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION billflow_refuse_issued_row_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: issued documents cannot change (issue a credit note)', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
"""


def _unsettled_index(*, include_credited: bool) -> None:
    include = ["client_id", "currency", "total_minor", "amount_paid_minor", "issue_date", "status"]
    op.drop_index("ix_invoices_unsettled_due", table_name="invoices")
    op.create_index(
        "ix_invoices_unsettled_due",
        "invoices",
        ["due_date", "id"],
        unique=False,
        postgresql_where=sa.text("status IN ('open', 'partially_paid', 'overdue')"),
        postgresql_include=[*include, "credited_minor"] if include_credited else include,
    )


def upgrade() -> None:
    # --- buyer details on the client ---
    op.add_column("clients", sa.Column("kind", sa.String(length=32), nullable=False, server_default="consumer"))
    op.add_column("clients", sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    op.add_column("clients", sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
    op.add_column("clients", sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
    op.add_column("clients", sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True))
    op.add_column("clients", sa.Column("vat_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))

    # --- invoices: kind, snapshots, breakdown, deposit link, credits ---
    op.add_column("invoices", sa.Column("kind", sa.String(length=32), nullable=False, server_default="invoice"))
    for name in ("seller", "buyer", "payment_means"):
        op.add_column(
            "invoices",
            sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'::jsonb")),
        )
    op.add_column(
        "invoices",
        sa.Column(
            "tax_breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
    )
    op.add_column("invoices", sa.Column("deposit_invoice_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "invoices_deposit_invoice_id_fkey", "invoices", "invoices", ["deposit_invoice_id"], ["id"]
    )
    op.add_column("invoices", sa.Column("booking", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("invoices", sa.Column("credited_minor", sa.BigInteger(), nullable=False, server_default="0"))
    # Balances are net of credit notes: the unsettled index carries credited_minor so aging stays index-only.
    _unsettled_index(include_credited=True)
    op.add_column(
        "invoice_lines", sa.Column("tax_category", sa.String(length=32), nullable=False, server_default="standard")
    )
    op.add_column(
        "invoice_lines", sa.Column("exemption_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
    )
    # Lines issued before categories existed: a rate above zero was standard, zero was zero-rated; each invoice's
    # breakdown is computed from its lines as EN 16931 rounds it (per line net, VAT per rate group).
    op.execute("UPDATE invoice_lines SET tax_category = 'zero' WHERE tax_rate_bp = 0")
    op.execute(
        """
        UPDATE invoices i SET tax_breakdown = b.rows FROM (
            SELECT invoice_id, jsonb_agg(jsonb_build_object(
                       'category', tax_category, 'rate_bp', tax_rate_bp, 'taxable_minor', taxable,
                       'tax_minor', tax, 'exemption_reason', NULL) ORDER BY tax_rate_bp) AS rows
            FROM (SELECT invoice_id, tax_category, tax_rate_bp, SUM(subtotal_minor) AS taxable,
                         SUM(tax_minor) AS tax
                  FROM invoice_lines GROUP BY invoice_id, tax_category, tax_rate_bp) g
            GROUP BY invoice_id
        ) b WHERE b.invoice_id = i.id
        """
    )

    # --- credit notes ---
    op.create_table(
        "credit_note_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "tax_breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        sa.Column("seller", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("buyer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refund_reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(op.f("ix_credit_notes_number"), "credit_notes", ["number"], unique=True)
    op.create_index(op.f("ix_credit_notes_invoice_id"), "credit_notes", ["invoice_id"], unique=False)
    op.create_index(op.f("ix_credit_notes_client_id"), "credit_notes", ["client_id"], unique=False)
    op.create_index(op.f("ix_credit_notes_issue_date"), "credit_notes", ["issue_date"], unique=False)
    op.create_table(
        "credit_note_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("tax_category", sa.String(length=32), nullable=False),
        sa.Column("exemption_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_note_id", "position"),
    )
    op.create_index(op.f("ix_credit_note_lines_credit_note_id"), "credit_note_lines", ["credit_note_id"], unique=False)
    op.add_column("email_messages", sa.Column("credit_note_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "email_messages_credit_note_id_fkey", "email_messages", "credit_notes", ["credit_note_id"], ["id"]
    )

    # --- issued means frozen, in the database too ---
    op.execute(FROZEN_FUNCTIONS)
    op.execute(
        "CREATE TRIGGER invoices_frozen BEFORE UPDATE ON invoices "
        "FOR EACH ROW EXECUTE FUNCTION billflow_refuse_issued_invoice_edit()"
    )
    for table in ("invoice_lines", "credit_notes", "credit_note_lines"):
        op.execute(
            f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION billflow_refuse_issued_row_edit()"
        )


def downgrade() -> None:
    for table in ("invoice_lines", "credit_notes", "credit_note_lines", "invoices"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
    op.execute("DROP FUNCTION IF EXISTS billflow_refuse_issued_row_edit()")
    op.execute("DROP FUNCTION IF EXISTS billflow_refuse_issued_invoice_edit()")
    op.drop_constraint("email_messages_credit_note_id_fkey", "email_messages", type_="foreignkey")
    op.drop_column("email_messages", "credit_note_id")
    op.drop_index(op.f("ix_credit_note_lines_credit_note_id"), table_name="credit_note_lines")
    op.drop_table("credit_note_lines")
    for name in ("issue_date", "client_id", "invoice_id", "number"):
        op.drop_index(op.f(f"ix_credit_notes_{name}"), table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_table("credit_note_counters")
    op.drop_column("invoice_lines", "exemption_reason")
    op.drop_column("invoice_lines", "tax_category")
    _unsettled_index(include_credited=False)
    op.drop_constraint("invoices_deposit_invoice_id_fkey", "invoices", type_="foreignkey")
    for name in ("credited_minor", "booking", "deposit_invoice_id", "tax_breakdown", "payment_means", "buyer", "seller", "kind"):
        op.drop_column("invoices", name)
    for name in ("vat_id", "country", "city", "postcode", "address_line1", "kind"):
        op.drop_column("clients", name)
