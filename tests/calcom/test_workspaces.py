"""A Cal.com integration of workspace B (issue 13.2): its verified deliveries issue into B (client, catalog
price, invoice, B's number series and seller, run id and WorkspaceId); the first workspace gets nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from temporalio.client import Client as TemporalClient
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.services import catalog, integrations
from models.client_sources import integration_source
from models.service_catalog import CatalogEntryIn
from tests.calcom.checks import invoice_status_becomes, one_invoice
from tests.calcom.payloads import delivery, documented_example, post
from tests.workspaces.support import make_workspace
from workflows.search_attributes import WORKSPACE_ID


async def _workspace_id_of(client: TemporalClient, workflow_id: str, timeout: float = 15.0) -> int | None:
    """The run's WorkspaceId once the outbox relay has started it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
            return described.typed_search_attributes.get(WORKSPACE_ID)
        except RPCError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_booking_through_workspace_bs_integration_lands_in_b(
    http: httpx.AsyncClient, worker: Worker, db: Database, env: WorkflowEnvironment
) -> None:
    b = await make_workspace(db, vat_id="DE136695976", iban="DE89370400440532013000", country="DE")
    assert b.id is not None
    name = f"calcom-{uuid.uuid4().hex[:8]}"
    created = await integrations.create_integration(db, integrations.NewIntegration(name=name, workspace_id=b.id))
    slug = f"massage-{uuid.uuid4().hex[:8]}"
    # The same event type in both catalogs at different prices: B's price must be the one billed.
    for workspace_id, price in ((1, 9000), (b.id, 7000)):
        entry = CatalogEntryIn(event_type=slug, service_name="Massage", unit_price_minor=price, currency="EUR")
        await catalog.add_entry(db, entry, workspace_id=workspace_id)

    body = documented_example(event_type=slug)
    response = await post(http, name, created.secret, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    uid = body["payload"]["uid"]
    assert answer["outcome"] == "invoice_started"
    assert answer["workflow_id"] == f"invoice-w{b.id}-{name}-{uid}"

    invoice = await one_invoice(db, name)
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    assert (invoice.workspace_id, client.workspace_id, client.source) == (b.id, b.id, integration_source(name))
    assert invoice.number.startswith(b.slug.upper().replace("-", "")[:7] + "-INV-")
    assert (invoice.total_minor, invoice.seller["name"], invoice.seller["vat_id"]) == (7000, b.name, "DE136695976")
    assert await _workspace_id_of(env.client, invoice.workflow_id) == b.id

    # Its cancellation, through the same integration, voids B's invoice.
    cancelled = await post(http, name, created.secret, delivery(body, "BOOKING_CANCELLED"))
    assert cancelled.status_code == 200 and cancelled.json()["outcome"] == "voided", cancelled.text
    assert (await invoice_status_becomes(db, name, "void")).workspace_id == b.id


async def test_workspace_bs_integration_refuses_another_integrations_secret(
    http: httpx.AsyncClient, db: Database, calcom: tuple[str, str]
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    name = f"calcom-{uuid.uuid4().hex[:8]}"
    await integrations.create_integration(db, integrations.NewIntegration(name=name, workspace_id=b.id))
    _, first_workspace_secret = calcom
    response = await post(http, name, first_workspace_secret, documented_example())
    assert response.status_code == 401, response.text
