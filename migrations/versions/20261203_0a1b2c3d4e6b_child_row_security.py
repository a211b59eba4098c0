"""row-level security on the child tables: lines, periods, sessions, documents, answers, links, inbound events

Revision ID: 0a1b2c3d4e6b
Revises: 0a1b2c3d4e32
Create Date: 2026-12-03 07:00:00

0a1b2c3d4e41 put the policies on the tables that carried `workspace_id`; the rows owned by them (an invoice's
lines, a subscription's periods, a client's portal links, ...) were still readable by any workspace. Each gets a
`workspace_id` of its own, backfilled from its owner, kept equal to it by a BEFORE INSERT trigger (whatever the
writer names: the column's default is the first workspace), and the same two policies as the owners.

Why a column and not a policy through the owner (`EXISTS (SELECT 1 FROM invoices i WHERE i.id = invoice_id)`):
measured on 200,000 invoices with 600,000 lines over 20 workspaces (a shared 2-core machine, as the application
role in one workspace), an unfiltered count of the workspace's lines took 450-500 ms with the column and
2,200-2,960 ms through the owner's policy (a subplan per line); the lines of 100 invoices 3-13 ms against 6-9 ms.
The column costs its trigger's owner lookup by primary key: 50,000 lines inserted in 4.1-4.9 s against 2.5-3.0 s
with the trigger disabled, about 35 us a row. It is not indexed: such rows are reached through their owner's id.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e6b"
down_revision: str | None = "0a1b2c3d4e32"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (owner table, owner key column, the child's column naming the owner). Booking events have no owner row
# (an integration or a staff key posts them): the intake names their workspace (services/booking_events).
OWNED = {
    "invoice_lines": ("invoices", "id", "invoice_id"),
    "credit_note_lines": ("credit_notes", "id", "credit_note_id"),
    "checkout_sessions": ("invoices", "id", "invoice_id"),
    "client_answers": ("invoices", "id", "invoice_id"),
    "rendered_documents": ("invoices", "id", "invoice_id"),
    "webhook_events": ("invoices", "id", "invoice_id"),
    "client_settings": ("clients", "id", "client_id"),
    "portal_links": ("clients", "id", "client_id"),
    "subscription_plans": ("subscriptions", "id", "subscription_id"),
    "subscription_periods": ("subscriptions", "id", "subscription_id"),
    "calcom_bookings": ("integrations", "name", "integration"),
    "calcom_deliveries": ("integrations", "name", "integration"),
}
NAMED_BY_WRITER = ("booking_events",)
# A webhook event learns its invoice when it is applied (webhook_events.mark_processed): it follows it then.
FOLLOWS_UPDATES = {"webhook_events"}
# Issued documents' lines refuse updates (revision b1c2d3e4f511); naming their workspace changes no document.
FROZEN = {"invoice_lines", "credit_note_lines"}

SETTING = "current_setting('billflow.workspace_id', true)"
IN_WORKSPACE = f"workspace_id = NULLIF(NULLIF({SETTING}, ''), 'all')::integer"
ALL_WORKSPACES = f"{SETTING} = 'all'"


def _trigger(table: str, owner: str, key: str, column: str) -> None:
    # An owner the writer cannot see (another workspace's, under row security) leaves the writer's value, which
    # the policy's WITH CHECK then refuses: the trigger never files a row under the writer's workspace by itself.
    events = f"INSERT OR UPDATE OF {column}" if table in FOLLOWS_UPDATES else "INSERT"
    op.execute(
        f"CREATE FUNCTION {table}_owner_workspace() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"NEW.workspace_id := COALESCE((SELECT workspace_id FROM {owner} WHERE {key} = NEW.{column}), "
        "NEW.workspace_id); RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_owner_workspace BEFORE {events} ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_owner_workspace()"
    )


def upgrade() -> None:
    for table in (*OWNED, *NAMED_BY_WRITER):
        # A constant default fills every row without a rewrite; rows of other workspaces follow their owner.
        op.add_column(table, sa.Column("workspace_id", sa.Integer(), nullable=False, server_default=sa.text("1")))
        op.create_foreign_key(f"fk_{table}_workspace_id", table, "workspaces", ["workspace_id"], ["id"])
    for table, (owner, key, column) in OWNED.items():
        if table in FROZEN:
            op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_frozen")
        op.execute(
            f"UPDATE {table} t SET workspace_id = o.workspace_id FROM {owner} o "
            f"WHERE o.{key} = t.{column} AND o.workspace_id <> 1"
        )
        if table in FROZEN:
            op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_frozen")
        _trigger(table, owner, key, column)
    # A booking event's workspace is its integration's (a staff key may name only its own workspace's), or the
    # one in the source a staff key posts under without naming one (`api-ws{id}`, web/api/events.api_key_source).
    op.execute(
        "UPDATE booking_events e SET workspace_id = i.workspace_id FROM integrations i "
        "WHERE i.name = e.integration AND i.workspace_id <> 1"
    )
    op.execute(
        "UPDATE booking_events e SET workspace_id = w.id FROM workspaces w "
        "WHERE e.integration = 'api-ws' || w.id AND w.id <> 1"
    )
    for table in (*OWNED, *NAMED_BY_WRITER):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_rows ON {table} USING ({IN_WORKSPACE}) WITH CHECK ({IN_WORKSPACE})")
        op.execute(f"CREATE POLICY all_workspaces ON {table} USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})")


def downgrade() -> None:
    for table in (*OWNED, *NAMED_BY_WRITER):
        op.execute(f"DROP POLICY IF EXISTS all_workspaces ON {table}")
        op.execute(f"DROP POLICY IF EXISTS workspace_rows ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in OWNED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_owner_workspace ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_owner_workspace()")
    for table in (*OWNED, *NAMED_BY_WRITER):
        op.drop_constraint(f"fk_{table}_workspace_id", table, type_="foreignkey")
        op.drop_column(table, "workspace_id")
