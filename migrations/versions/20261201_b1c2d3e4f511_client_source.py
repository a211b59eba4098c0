"""clients belong to their source: unique per (source, external_id) instead of a global external_id

Existing clients get the source they came from where it can be derived, else "staff" (the documented default):
- an invoice of theirs from a booking source other than staff's ("manual", "api", "subscription", "demo"):
  "integration:{that source}" (booking events and Cal.com deliveries name their integration in the source key);
- else a stored booking event of an integration naming their external id (e.g. `subscription.created`);
- else "staff" (the CLI, staff API keys, subscriptions created by staff, clients with no booking).

Revision ID: b1c2d3e4f511
Revises: a3f1c2d4e5b6
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1c2d3e4f511"
down_revision: str | None = "a3f1c2d4e5b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAFF_BOOKING_SOURCES = "('manual', 'api', 'subscription', 'demo')"


def upgrade() -> None:
    op.add_column("clients", sa.Column("source", sa.String(length=80), server_default=sa.text("'staff'"), nullable=False))
    # The earliest invoice from an integration's booking names the client's source.
    op.execute(
        f"""
UPDATE clients c SET source = 'integration:' || first.src
FROM (
    SELECT DISTINCT ON (i.client_id) i.client_id, split_part(i.source_key, ':', 2) AS src
    FROM invoices i
    WHERE i.source_key LIKE 'booking:%' AND split_part(i.source_key, ':', 2) NOT IN {STAFF_BOOKING_SOURCES}
    ORDER BY i.client_id, i.id
) AS first
WHERE first.client_id = c.id
"""
    )
    # Clients no integration invoice names: the earliest integration event that carried them.
    op.execute(
        f"""
UPDATE clients c SET source = 'integration:' || first.integration
FROM (
    SELECT DISTINCT ON (e.payload -> 'data' -> 'client' ->> 'external_id')
           e.payload -> 'data' -> 'client' ->> 'external_id' AS external_id, e.integration
    FROM booking_events e
    WHERE e.payload -> 'data' -> 'client' ->> 'external_id' IS NOT NULL
      AND e.integration NOT IN {STAFF_BOOKING_SOURCES}
    ORDER BY e.payload -> 'data' -> 'client' ->> 'external_id', e.id
) AS first
WHERE first.external_id = c.external_id AND c.source = 'staff'
  AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.client_id = c.id)
"""
    )
    op.drop_index("ix_clients_external_id", table_name="clients")
    op.create_index("ix_clients_external_id", "clients", ["external_id"], unique=False)
    op.create_unique_constraint("uq_clients_source_external_id", "clients", ["source", "external_id"])


def downgrade() -> None:
    # Fails while two sources share an external id: merge or rename those clients first.
    op.drop_constraint("uq_clients_source_external_id", "clients", type_="unique")
    op.drop_index("ix_clients_external_id", table_name="clients")
    op.create_index("ix_clients_external_id", "clients", ["external_id"], unique=True)
    op.drop_column("clients", "source")
