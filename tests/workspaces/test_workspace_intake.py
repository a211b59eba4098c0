"""An integration of workspace B: its bookings' clients and invoices land in B, numbered by B's series, and
only B's keys see them."""

from __future__ import annotations

import uuid

import httpx
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.services import api_keys, integrations
from models.api_keys import ApiRole
from models.client_sources import integration_source
from tests.api.support import confirmed_event, event, post_signed
from tests.workspaces.support import make_workspace


async def _key(db: Database, workspace_id: int) -> dict[str, str]:
    created = await api_keys.create_key(db, api_keys.NewApiKey(name="t", role=ApiRole.staff, workspace_id=workspace_id))
    return {"Authorization": f"Bearer {created.token}"}


async def test_a_booking_from_workspace_bs_integration_is_bs(
    http: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    b = await make_workspace(db, vat_id="DE136695976", iban="DE89370400440532013000", country="DE")
    assert b.id is not None
    name = f"shop-{uuid.uuid4().hex[:8]}"
    created = await integrations.create_integration(db, integrations.NewIntegration(name=name, workspace_id=b.id))
    body = confirmed_event()
    answer = await post_signed(http, name, created.secret, body)
    assert answer.status_code == 202, answer.text
    number = answer.json()["invoice_number"]
    assert number.startswith(b.slug.upper().replace("-", "")[:7] + "-INV-")

    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        client = await clients_repo.get_client(
            session,
            external_id=body["data"]["client"]["external_id"],
            source=integration_source(name),
            workspace_id=b.id,
        )
    assert invoice is not None and client is not None
    assert (invoice.workspace_id, client.workspace_id, invoice.client_id) == (b.id, b.id, client.id)
    # B's business is the seller on B's invoice, with B's bank account.
    assert (invoice.seller["name"], invoice.seller["vat_id"]) == (b.name, "DE136695976")
    assert invoice.payment_means["iban"] == "DE89370400440532013000"

    assert (await http.get(f"/v1/invoices/{number}", headers=await _key(db, b.id))).status_code == 200
    assert (await http.get(f"/v1/invoices/{number}", headers=await _key(db, 1))).status_code == 404

    # Its cancellation finds the invoice by the integration's booking id, as in the first workspace.
    cancelled = await post_signed(http, name, created.secret, event("booking.cancelled", body["data"]["booking_id"]))
    assert cancelled.status_code == 202, cancelled.text


async def test_two_workspaces_bookings_with_the_same_ids_stay_apart(http: httpx.AsyncClient, db: Database) -> None:
    a = await make_workspace(db, vat_id="DE136695976", iban="DE89370400440532013000", country="DE")
    b = await make_workspace(db, vat_id="FR40303265045", iban="FR1420041010050500013M02606", country="FR")
    assert a.id is not None and b.id is not None
    body = confirmed_event(booking_id=f"bk-{uuid.uuid4().hex[:6]}")  # the same event, booking and client in both
    answers = {}
    for ws in (a, b):
        assert ws.id is not None
        response = await http.post("/v1/events", json=body, headers=await _key(db, ws.id))
        assert response.status_code == 202, response.text
        assert "Idempotent-Replayed" not in response.headers  # not the other workspace's answer replayed
        answers[ws.id] = response.json()
    assert answers[a.id]["invoice_number"] != answers[b.id]["invoice_number"]
    assert answers[a.id]["workflow_id"] != answers[b.id]["workflow_id"]
    async with db.session() as session:
        for ws in (a, b):
            assert ws.id is not None
            invoice = await invoices_repo.get_invoice(session, number=answers[ws.id]["invoice_number"])
            client = await clients_repo.get_client(
                session, external_id=body["data"]["client"]["external_id"], source="staff", workspace_id=ws.id
            )
            assert invoice is not None and client is not None
            assert (invoice.workspace_id, invoice.client_id, invoice.seller["name"]) == (ws.id, client.id, ws.name)


async def test_a_key_cannot_post_through_another_workspaces_integration(
    http: httpx.AsyncClient, db: Database, integration: tuple[str, str]
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    name, _ = integration  # the first workspace's
    headers = await _key(db, b.id) | {integrations.INTEGRATION_HEADER: name}
    response = await http.post("/v1/events", json=confirmed_event(), headers=headers)
    assert response.status_code == 401
