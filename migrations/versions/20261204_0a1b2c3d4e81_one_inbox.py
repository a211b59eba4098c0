"""one inbox: booking events, Cal.com deliveries and Stripe/SendGrid events in inbox_events (claimed once)

Revision ID: 0a1b2c3d4e81
Revises: 0a1b2c3d4e71
Create Date: 2026-12-04 09:00:00

Issue 12, "one intake": every inbound delivery is verified, stored once and handled through one table and one
repository (billflow/repositories/inbox.py) instead of three claim-once tables. A row is unique per
(source, channel, event key):

- booking_events (integration, event_id) -> ('booking', integration, event_id); version and booking_id stay in
  the payload (nothing read the columns);
- calcom_deliveries (integration, booking_uid, trigger) -> ('calcom', integration, '{booking_uid}:{trigger}'),
  type = the trigger;
- webhook_events (provider, event_id) -> ('stripe', '', event_id), ('stripe', 'w{id}', event_id) for a
  workspace's own endpoint (provider `stripe:w{id}`), ('sendgrid', '', event_id).

Rows are copied with their results, outcomes, invoices, timestamps and workspaces. Ids are new (the three
sequences overlap); each old table's rows keep their order (Settings > Integrations pages and the newest-event
read go by id), and rows of different tables interleave by when they arrived.

Row security: the policies of 0a1b2c3d4e41. The intake names the row's workspace (booking events: the sender's;
Cal.com: the integration's; a workspace's own Stripe endpoint: that workspace), and a row that learns its
invoice (Stripe and SendGrid events, when applied) follows the invoice's workspace, as webhook_events did, by a
BEFORE INSERT OR UPDATE OF invoice_id trigger. Downgrade rebuilds the three tables as 0a1b2c3d4e6b left them
and copies the rows back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0a1b2c3d4e81"
down_revision: str | None = "0a1b2c3d4e71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "inbox_events"
OLD = ("booking_events", "calcom_deliveries", "webhook_events")
SETTING = "current_setting('billflow.workspace_id', true)"
# The policies of 0a1b2c3d4e41, word for word: NULL, '' and 'all' match no workspace in the first.
IN_WORKSPACE = f"workspace_id = NULLIF(NULLIF({SETTING}, ''), 'all')::integer"
ALL_WORKSPACES = f"{SETTING} = 'all'"


def _secure(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY workspace_rows ON {table} USING ({IN_WORKSPACE}) WITH CHECK ({IN_WORKSPACE})")
    op.execute(f"CREATE POLICY all_workspaces ON {table} USING ({ALL_WORKSPACES}) WITH CHECK ({ALL_WORKSPACES})")


def _owner_trigger(table: str, owner: str, key: str, column: str, events: str) -> None:
    # As 0a1b2c3d4e6b's: an owner the writer cannot see leaves the writer's value (which WITH CHECK then judges).
    op.execute(
        f"CREATE FUNCTION {table}_owner_workspace() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"NEW.workspace_id := COALESCE((SELECT workspace_id FROM {owner} WHERE {key} = NEW.{column}), "
        "NEW.workspace_id); RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_owner_workspace BEFORE {events} ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_owner_workspace()"
    )


def _workspace_column() -> sa.Column:
    return sa.Column("workspace_id", sa.Integer(), nullable=False, server_default=sa.text("1"))


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        _workspace_column(),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("sent_by", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=f"fk_{TABLE}_workspace_id"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "channel", "event_key", name="uq_inbox_events_source_channel_event_key"),
    )
    op.create_index("ix_inbox_events_source_channel_id", TABLE, ["source", "channel", "id"], unique=False)
    op.create_index(op.f("ix_inbox_events_invoice_id"), TABLE, ["invoice_id"], unique=False)
    # One statement, so the ids follow one order: within each old table its own id order (a running maximum of
    # received_at never goes back), across tables by arrival.
    op.execute(
        f"""
INSERT INTO {TABLE} (workspace_id, source, channel, event_key, type, payload, payload_sha256, result, outcome,
    invoice_id, sent_by, received_at, processed_at)
SELECT workspace_id, source, channel, event_key, type, payload, payload_sha256, result, outcome, invoice_id,
    sent_by, received_at, processed_at
FROM (
    SELECT 1 AS part, id, workspace_id, 'booking' AS source, integration AS channel, event_id AS event_key, type,
        payload, payload_sha256, result, result->>'outcome' AS outcome, NULL::integer AS invoice_id, sent_by,
        received_at, processed_at
    FROM booking_events
    UNION ALL
    SELECT 2, id, workspace_id, 'calcom', integration, booking_uid || ':' || trigger, trigger, payload, NULL,
        result, result->>'outcome', NULL, NULL, received_at, processed_at
    FROM calcom_deliveries
    UNION ALL
    SELECT 3, id, workspace_id, split_part(provider, ':', 1), split_part(provider, ':', 2), event_id, type,
        payload, NULL, '{{}}'::jsonb, outcome, invoice_id, NULL, received_at, processed_at
    FROM webhook_events
) AS old
ORDER BY max(received_at) OVER (PARTITION BY part ORDER BY id), part, id
"""
    )
    _owner_trigger(TABLE, "invoices", "id", "invoice_id", "INSERT OR UPDATE OF invoice_id")
    _secure(TABLE)
    for table in OLD:
        op.drop_table(table)  # with its policies and triggers
    for table in ("calcom_deliveries", "webhook_events"):
        op.execute(f"DROP FUNCTION {table}_owner_workspace()")


def downgrade() -> None:
    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.String(length=120), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.String(length=200), nullable=True),
        _workspace_column(),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_booking_events_workspace_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("integration", "event_id"),
    )
    op.create_index("ix_booking_events_booking_id", "booking_events", ["booking_id"], unique=False)
    op.create_index("ix_booking_events_integration_id", "booking_events", ["integration", "id"], unique=False)
    op.create_table(
        "calcom_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration", sa.String(length=64), nullable=False),
        sa.Column("booking_uid", sa.String(length=120), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        _workspace_column(),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_calcom_deliveries_workspace_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("integration", "booking_uid", "trigger"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        _workspace_column(),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_webhook_events_workspace_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "event_id"),
    )
    op.create_index("ix_webhook_events_invoice_id", "webhook_events", ["invoice_id"], unique=False)
    op.create_index("ix_webhook_events_type", "webhook_events", ["type"], unique=False)
    # The inbox's ids are unique across it, so each old table takes them as they are (its order kept).
    op.execute(
        f"""
INSERT INTO booking_events (id, workspace_id, integration, event_id, type, version, booking_id, payload_sha256,
    payload, result, received_at, processed_at, sent_by)
SELECT id, workspace_id, channel, event_key, type, COALESCE((payload->>'version')::integer, 1),
    COALESCE(payload->'data'->>'booking_id', ''), COALESCE(payload_sha256, ''), payload, result, received_at,
    processed_at, sent_by
FROM {TABLE} WHERE source = 'booking'
"""
    )
    op.execute(
        f"""
INSERT INTO calcom_deliveries (id, workspace_id, integration, booking_uid, trigger, payload, result, received_at,
    processed_at)
SELECT id, workspace_id, channel, left(event_key, length(event_key) - length(type) - 1), type, payload, result,
    received_at, processed_at
FROM {TABLE} WHERE source = 'calcom'
"""
    )
    op.execute(
        f"""
INSERT INTO webhook_events (id, workspace_id, provider, event_id, type, payload, invoice_id, outcome, received_at,
    processed_at)
SELECT id, workspace_id, source || CASE WHEN channel = '' THEN '' ELSE ':' || channel END, event_key, type, payload,
    invoice_id, outcome, received_at, processed_at
FROM {TABLE} WHERE source NOT IN ('booking', 'calcom')
"""
    )
    for table in OLD:
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(max(id), 0) + 1, false) "
                   f"FROM {table}")
    _owner_trigger("calcom_deliveries", "integrations", "name", "integration", "INSERT")
    _owner_trigger("webhook_events", "invoices", "id", "invoice_id", "INSERT OR UPDATE OF invoice_id")
    for table in OLD:
        _secure(table)
    op.drop_table(TABLE)
    op.execute(f"DROP FUNCTION {TABLE}_owner_workspace()")
