"""workspace isolation: every business row names its workspace; numbers unique per workspace; row-level security

Revision ID: 0a1b2c3d4e41
Revises: 0a1b2c3d4e51
Create Date: 2026-12-02 20:40:00

Emails, timeline events, credit notes, the service catalog and report snapshots get `workspace_id`, filled from
the row that owns them (an email's invoice, else its client; an event's client; a credit note's invoice; the
catalog and the snapshots were the first workspace's). Invoice and credit-note numbers, catalog event types and
snapshots become unique per workspace. Reports read per workspace from indexes that lead with it.

Row-level security is enabled on every workspace table with two permissive policies on the per-transaction
setting `billflow.workspace_id` (set by billflow/db.py): the rows of that workspace, or every row when it is
`all` (the worker's, the CLI's and the unauthenticated edges' named bypass). The table owner (the role that
migrates) and superusers bypass RLS, so nothing changes until the application connects as a role that owns
nothing: docs/workspaces.md, "Row-level security".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e41"
down_revision: str | None = "0a1b2c3d4e51"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables that get the column here, and how their rows are backfilled.
NEW = {
    "email_messages": (
        "UPDATE email_messages m SET workspace_id = i.workspace_id FROM invoices i "
        "WHERE i.id = m.invoice_id AND i.workspace_id <> 1"
    ),
    "timeline_events": (
        "UPDATE timeline_events t SET workspace_id = c.workspace_id FROM clients c "
        "WHERE c.id = t.client_id AND c.workspace_id <> 1"
    ),
    "credit_notes": (
        "UPDATE credit_notes n SET workspace_id = i.workspace_id FROM invoices i "
        "WHERE i.id = n.invoice_id AND i.workspace_id <> 1"
    ),
    "service_catalog": None,
    "report_snapshots": None,
}
# Every table whose rows belong to one workspace: row-level security on each. (Numbering series are not: the
# first workspace's admin creates other workspaces and their series.)
ISOLATED = (
    "clients", "invoices", "payments", "subscriptions", "api_keys", "integrations", *NEW,
)  # fmt: skip

SETTING = "current_setting('billflow.workspace_id', true)"
# NULL (never set), '' (set once, then reset) and 'all' match no workspace in this policy.
IN_WORKSPACE = f"workspace_id = NULLIF(NULLIF({SETTING}, ''), 'all')::integer"
ALL_WORKSPACES = f"{SETTING} = 'all'"

UNSETTLED = "status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"
# (name, table, columns, include, where): the report indexes, each led by the workspace (models name them too).
REPORT_INDEXES = (
    ("ix_invoices_ws_unsettled_due", "invoices", ["workspace_id", "due_date", "id"],
     ["client_id", "currency", "total_minor", "amount_paid_minor", "issue_date", "status", "credited_minor"],
     UNSETTLED),
    ("ix_invoices_ws_receivable_cover", "invoices", ["workspace_id", "issued_at"],
     ["id", "client_id", "currency", "due_at", "total_minor", "credited_minor", "amount_paid_minor"], UNSETTLED),
    ("ix_invoices_ws_issue_date_cover", "invoices", ["workspace_id", "issue_date"],
     ["currency", "total_minor", "status", "issued_at"], None),
    ("ix_invoices_ws_paid_at", "invoices", ["workspace_id", "paid_at"], ["id"], "paid_at IS NOT NULL"),
    ("ix_invoices_ws_id", "invoices", ["workspace_id", "id"], ["client_id", "number"], None),
    ("ix_payments_ws_received_cover", "payments", ["workspace_id", "received_at"],
     ["invoice_id", "currency", "kind", "amount_minor"], None),
    ("ix_email_messages_ws_reminders_sent", "email_messages", ["workspace_id", "sent_at"],
     ["reminder_step", "invoice_id"], "reminder_step IS NOT NULL"),
)  # fmt: skip


# A row's workspace is its owner's, whoever writes it: code that names no workspace yet (the column's default
# is the first workspace) cannot file one business's email, event or credit note under another.
OWNER_TRIGGERS = {
    "email_messages": (
        "COALESCE((SELECT workspace_id FROM invoices WHERE id = NEW.invoice_id), "
        "(SELECT workspace_id FROM clients WHERE id = NEW.client_id), NEW.workspace_id)"
    ),
    "timeline_events": "COALESCE((SELECT workspace_id FROM clients WHERE id = NEW.client_id), NEW.workspace_id)",
    "credit_notes": "COALESCE((SELECT workspace_id FROM invoices WHERE id = NEW.invoice_id), NEW.workspace_id)",
}


def upgrade() -> None:
    for table, backfill in NEW.items():
        # ADD COLUMN with a constant default fills every row at once (no rewrite); the owners' workspace follows.
        op.add_column(table, sa.Column("workspace_id", sa.Integer(), nullable=False, server_default=sa.text("1")))
        if backfill:
            # Issued credit notes refuse edits (credit_notes_frozen); naming their workspace changes no document.
            frozen = table == "credit_notes"
            if frozen:
                op.execute("ALTER TABLE credit_notes DISABLE TRIGGER credit_notes_frozen")
            op.execute(backfill)
            if frozen:
                op.execute("ALTER TABLE credit_notes ENABLE TRIGGER credit_notes_frozen")
        op.create_foreign_key(f"fk_{table}_workspace_id", table, "workspaces", ["workspace_id"], ["id"])
        op.create_index(op.f(f"ix_{table}_workspace_id"), table, ["workspace_id"], unique=False)
    op.execute(
        "UPDATE email_messages m SET workspace_id = c.workspace_id FROM clients c "
        "WHERE m.invoice_id IS NULL AND c.id = m.client_id AND c.workspace_id <> m.workspace_id"
    )

    # Numbers are unique within their workspace: two businesses may both issue INV-2026-000001.
    for table in ("invoices", "credit_notes"):
        op.drop_index(f"ix_{table}_number", table_name=table)
        op.create_index(f"ix_{table}_number", table, ["number"], unique=False)
        op.create_unique_constraint(f"uq_{table}_workspace_number", table, ["workspace_id", "number"])
    op.drop_constraint("service_catalog_event_type_key", "service_catalog", type_="unique")
    op.create_unique_constraint(
        "uq_service_catalog_workspace_event_type", "service_catalog", ["workspace_id", "event_type"]
    )
    op.drop_constraint("report_snapshots_kind_as_of_zone_params_key", "report_snapshots", type_="unique")
    op.create_unique_constraint(
        "uq_report_snapshots_workspace_key", "report_snapshots", ["workspace_id", "kind", "as_of", "zone", "params"]
    )

    for name, table, columns, include, where in REPORT_INDEXES:
        op.create_index(
            name, table, columns, postgresql_include=include, postgresql_where=sa.text(where) if where else None
        )

    for table, owner in OWNER_TRIGGERS.items():
        op.execute(
            f"CREATE FUNCTION {table}_owner_workspace() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN NEW.workspace_id := {owner}; RETURN NEW; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_owner_workspace BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_owner_workspace()"
        )

    for table in ISOLATED:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_rows ON {table} USING ({IN_WORKSPACE}) WITH CHECK ({IN_WORKSPACE})")
        op.execute(f"CREATE POLICY all_workspaces ON {table} USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM workspaces WHERE id <> 1")).scalar_one():
        raise RuntimeError("more than one workspace exists: downgrading would merge their numbers and catalogs")
    for table in ISOLATED:
        op.execute(f"DROP POLICY IF EXISTS all_workspaces ON {table}")
        op.execute(f"DROP POLICY IF EXISTS workspace_rows ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in OWNER_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_owner_workspace ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_owner_workspace()")
    for name, table, *_ in REPORT_INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_constraint("uq_report_snapshots_workspace_key", "report_snapshots", type_="unique")
    op.create_unique_constraint(
        "report_snapshots_kind_as_of_zone_params_key", "report_snapshots", ["kind", "as_of", "zone", "params"]
    )
    op.drop_constraint("uq_service_catalog_workspace_event_type", "service_catalog", type_="unique")
    op.create_unique_constraint("service_catalog_event_type_key", "service_catalog", ["event_type"])
    for table in ("invoices", "credit_notes"):
        op.drop_constraint(f"uq_{table}_workspace_number", table, type_="unique")
        op.drop_index(f"ix_{table}_number", table_name=table)
        op.create_index(f"ix_{table}_number", table, ["number"], unique=True)
    for table in NEW:
        op.drop_index(op.f(f"ix_{table}_workspace_id"), table_name=table)
        op.drop_constraint(f"fk_{table}_workspace_id", table, type_="foreignkey")
        op.drop_column(table, "workspace_id")
