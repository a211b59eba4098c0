"""workspaces: the installation's business becomes workspace 1; rows belong to a workspace; numbering series

Revision ID: 0a1b2c3d4e25
Revises: 0a1b2c3d4e19
Create Date: 2026-12-02 16:40:00

The first workspace's profile is the BILLFLOW_BUSINESS_* settings of the process that migrates (the
installation's business until now); its numbering series continue the invoice and credit-note counters, so
the next number follows the last one issued.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0a1b2c3d4e25"
down_revision: str | None = "0a1b2c3d4e19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ("clients", "invoices", "payments", "subscriptions", "api_keys", "integrations")
PATTERN = "{prefix}-{yyyy}-{seq:06}"


def _installation_profile() -> dict[str, Any]:
    """The business the settings describe; the defaults when they cannot be read (they are edited later with
    `billflow workspace update default`)."""
    profile: dict[str, Any] = {"name": "billflow demo studio", "reporting_timezone": "UTC"}
    try:
        from billflow.config import get_settings

        settings = get_settings()
    except Exception:  # noqa: BLE001  (a migration must not fail on an unrelated setting)
        return profile
    profile.update(
        name=settings.business_name,
        legal_name=settings.business_legal_name,
        address_line1=settings.business_address_line1,
        postcode=settings.business_postcode,
        city=settings.business_city,
        country=(settings.business_country or "").upper() or None,
        vat_id=settings.business_vat_id,
        registration=settings.business_registration,
        iban=settings.business_iban,
        bic=settings.business_bic,
        reply_to=settings.staff_email,
        reporting_timezone=settings.reporting_timezone,
    )
    logo = settings.business_logo
    try:
        if logo is not None and logo.is_file() and logo.stat().st_size <= 512 * 1024:
            content = logo.read_bytes()
            kind = "image/png" if content.startswith(b"\x89PNG") else "image/jpeg" if content[:3] == b"\xff\xd8\xff" else None
            if kind:
                profile.update(logo=content, logo_type=kind)
    except OSError:
        pass
    return profile


def upgrade() -> None:
    workspaces = op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("legal_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("address_line1", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("vat_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("registration", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("iban", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=True),
        sa.Column("bic", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=20), nullable=True),
        sa.Column("sender_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("reply_to", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("default_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reporting_timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("reminder_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("invoice_footer", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    profile = _installation_profile()
    now = sa.func.now()
    op.execute(
        workspaces.insert().values(
            id=1, slug="default", default_currency="EUR", locale="en_US", payment_terms_days=14,
            created_at=now, updated_at=now, **profile,
        )  # fmt: skip
    )
    op.execute("SELECT setval(pg_get_serial_sequence('workspaces', 'id'), 1)")

    op.create_table(
        "numbering_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("document_type", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("pattern", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reset", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "document_type", name="uq_numbering_series_workspace_type"),
    )
    op.create_table(
        "numbering_counters",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["numbering_series.id"]),
        sa.PrimaryKeyConstraint("series_id", "period"),
    )
    # The first workspace's series print what billflow printed before (INV-2026-000042) and go on counting.
    for series_id, document_type, prefix, old in ((1, "invoice", "INV", "invoice_counters"), (2, "credit_note", "CN", "credit_note_counters")):  # fmt: skip
        op.execute(
            sa.text(
                "INSERT INTO numbering_series (id, workspace_id, document_type, prefix, pattern, reset) "
                "VALUES (:id, 1, :type, :prefix, :pattern, 'yearly')"
            ).bindparams(id=series_id, type=document_type, prefix=prefix, pattern=PATTERN)
        )
        op.execute(
            f"INSERT INTO numbering_counters (series_id, period, last_value) SELECT {series_id}, year, last_value FROM {old}"  # noqa: S608
        )
        op.drop_table(old)
    op.execute("SELECT setval(pg_get_serial_sequence('numbering_series', 'id'), 2)")

    # Every row so far belongs to the installation's business: ADD COLUMN with a default fills them in one go.
    for table in OWNED:
        op.add_column(table, sa.Column("workspace_id", sa.Integer(), nullable=False, server_default=sa.text("1")))
        op.create_foreign_key(f"fk_{table}_workspace_id", table, "workspaces", ["workspace_id"], ["id"])
        op.create_index(op.f(f"ix_{table}_workspace_id"), table, ["workspace_id"], unique=False)

    # A client is unique per workspace and source (two businesses may both have a client "c-1").
    op.drop_constraint("uq_clients_source_external_id", "clients", type_="unique")
    op.create_unique_constraint(
        "uq_clients_workspace_source_external_id", "clients", ["workspace_id", "source", "external_id"]
    )


def downgrade() -> None:
    # Refused rather than merging businesses: two workspaces' clients would collide on (source, external id).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM workspaces WHERE id <> 1")).scalar_one():
        raise RuntimeError("more than one workspace exists: downgrading would merge their data")
    op.drop_constraint("uq_clients_workspace_source_external_id", "clients", type_="unique")
    op.create_unique_constraint("uq_clients_source_external_id", "clients", ["source", "external_id"])
    for table in OWNED:
        op.drop_index(op.f(f"ix_{table}_workspace_id"), table_name=table)
        op.drop_constraint(f"fk_{table}_workspace_id", table, type_="foreignkey")
        op.drop_column(table, "workspace_id")
    for document_type, old in (("invoice", "invoice_counters"), ("credit_note", "credit_note_counters")):
        op.create_table(
            old,
            sa.Column("year", sa.Integer(), nullable=False),
            sa.Column("last_value", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("year"),
        )
        op.execute(
            sa.text(
                f"INSERT INTO {old} (year, last_value) SELECT c.period, c.last_value FROM numbering_counters c "  # noqa: S608
                "JOIN numbering_series s ON s.id = c.series_id WHERE s.workspace_id = 1 AND s.document_type = :type"
            ).bindparams(type=document_type)
        )
    op.drop_table("numbering_counters")
    op.drop_table("numbering_series")
    op.drop_table("workspaces")
