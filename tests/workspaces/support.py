"""Rows of another workspace for the isolation tests: a workspace, its client and an invoice."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from billflow.db import Database
from billflow.services import workspaces
from models.clients import Client
from models.invoices import Invoice
from models.workspaces import WorkspaceCreate


async def make_workspace(db: Database, **profile: object) -> workspaces.WorkspaceDetail:
    slug = f"ws-{uuid.uuid4().hex[:8]}"
    return await workspaces.create_workspace(db, WorkspaceCreate(slug=slug, name=f"Studio {slug}", **profile))


async def make_invoice(db: Database, *, workspace_id: int, external_id: str | None = None) -> tuple[Invoice, Client]:
    """An open invoice of a client of the workspace, written as the issue transaction writes them."""
    key = uuid.uuid4().hex[:12]
    async with db.session() as session:
        client = Client(
            workspace_id=workspace_id,
            external_id=external_id or f"c-{key}",
            name=f"Client {key}",
            email=f"{key}@example.com",
        )
        session.add(client)
        await session.flush()
        assert client.id is not None
        now = datetime.now(UTC)
        invoice = Invoice(
            workspace_id=workspace_id,
            number=f"T{key}",
            source_key=f"test:{key}",
            workflow_id=f"invoice-test-{key}",
            client_id=client.id,
            currency="EUR",
            subtotal_minor=10_000,
            total_minor=10_000,
            status="paid",
            amount_paid_minor=10_000,
            issue_date=date.today(),
            due_date=date.today() + timedelta(days=14),
            due_at=now + timedelta(days=14),
            timezone="UTC",
            public_token=key,
        )
        session.add(invoice)
        await session.flush()
    return invoice, client
