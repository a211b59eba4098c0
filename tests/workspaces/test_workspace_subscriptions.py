"""Subscriptions of workspace B (issue 13.2): created by B's key, B's integration or the CLI with --workspace, the
subscription, its client, its periods' invoices and their runs are B's; the first workspace's keys never see them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import subscriptions as subs_repo
from billflow.services import api_keys, integrations
from models.api_keys import ApiRole
from models.client_sources import STAFF_SOURCE, integration_source
from tests.api.support import post_signed
from tests.api.test_subscription_event import subscription_event
from tests.subscriptions.support import invoices_of, make_subscription, runs_of, terminate_all
from tests.workspaces.support import make_workspace
from workflows.search_attributes import WORKSPACE_ID


async def _key(db: Database, workspace_id: int) -> dict[str, str]:
    created = await api_keys.create_key(db, api_keys.NewApiKey(name="t", role=ApiRole.staff, workspace_id=workspace_id))
    return {"Authorization": f"Bearer {created.token}"}


async def test_workspace_bs_key_creates_and_bills_a_subscription_in_b(
    http: httpx.AsyncClient, worker: Worker, db: Database, temporal_env: WorkflowEnvironment
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    headers = await _key(db, b.id)
    start = (await temporal_env.get_current_time()).date()
    payload = make_subscription(start_date=start, interval={"kind": "weekly"}).model_dump(mode="json")
    created = await http.post("/v1/subscriptions", json=payload, headers=headers)
    assert created.status_code == 201, created.text
    sub_id = created.json()["subscription_id"]
    try:
        async with db.session() as session:
            sub = await subs_repo.get_subscription(session, subscription_id=sub_id)
            assert sub is not None
            client = await clients_repo.get_client(session, client_id=sub.client_id)
            first_ws_client = await clients_repo.get_client(
                session, external_id=payload["client"]["external_id"], source=STAFF_SOURCE, workspace_id=1
            )
        assert client is not None
        assert (sub.workspace_id, client.workspace_id, first_ws_client) == (b.id, b.id, None)
        attrs = (await temporal_env.client.get_workflow_handle(sub.workflow_id).describe()).typed_search_attributes
        assert attrs.get(WORKSPACE_ID) == b.id

        triggered = await http.post(f"/v1/subscriptions/{sub_id}/trigger", json={}, headers=headers)
        assert triggered.status_code == 200, triggered.text
        [invoice] = await invoices_of(db, sub_id)
        assert invoice.workspace_id == b.id and invoice.client_id == client.id
        assert invoice.workflow_id.startswith(f"invoice-w{b.id}-subscription-{sub_id}-")
        assert invoice.number.startswith(b.slug.upper().replace("-", "")[:7] + "-INV-")

        # The first workspace's keys do not see it; B's list does.
        first = await _key(db, 1)
        assert (await http.get(f"/v1/subscriptions/{sub_id}", headers=first)).status_code == 404
        listed = await http.get("/v1/subscriptions", headers=headers)
        assert sub_id in [s["subscription_id"] for s in listed.json()]
    finally:
        wf = await runs_of(db, sub_id)
        await terminate_all(temporal_env.client, wf)


async def test_another_workspaces_subscription_id_is_a_conflict_that_names_nothing(
    http: httpx.AsyncClient, worker: Worker, db: Database, temporal_env: WorkflowEnvironment
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    start = (await temporal_env.get_current_time()).date() + timedelta(days=10)
    payload = make_subscription(start_date=start).model_dump(mode="json")
    first = await http.post("/v1/subscriptions", json=payload, headers=await _key(db, 1))
    assert first.status_code == 201, first.text
    sub_id = first.json()["subscription_id"]
    try:
        again = await http.post("/v1/subscriptions", json=payload, headers=await _key(db, b.id))
        assert again.status_code == 409, again.text
        assert "taken" in again.text and payload["client"]["name"] not in again.text
        async with db.session() as session:
            sub = await subs_repo.get_subscription(session, subscription_id=sub_id)
        assert sub is not None and sub.workspace_id == 1
    finally:
        await terminate_all(temporal_env.client, await runs_of(db, sub_id))


async def test_workspace_bs_integration_starts_its_subscription_in_b(
    http: httpx.AsyncClient, worker: Worker, db: Database, temporal_env: WorkflowEnvironment
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    name = f"subs-{uuid.uuid4().hex[:8]}"
    created = await integrations.create_integration(db, integrations.NewIntegration(name=name, workspace_id=b.id))
    event_id = f"evt-{uuid.uuid4().hex[:8]}"
    start = (await temporal_env.get_current_time()).date() + timedelta(days=10)
    body = subscription_event(event_id, start.isoformat())
    answer = await post_signed(http, name, created.secret, body)
    assert answer.status_code == 202, answer.text
    sub_id = f"{name}-{event_id}"
    try:
        async with db.session() as session:
            sub = await subs_repo.get_subscription(session, subscription_id=sub_id)
            assert sub is not None
            client = await clients_repo.get_client(session, client_id=sub.client_id)
        assert client is not None
        assert (sub.workspace_id, client.workspace_id, client.source) == (b.id, b.id, integration_source(name))
        attrs = (await temporal_env.client.get_workflow_handle(sub.workflow_id).describe()).typed_search_attributes
        assert attrs.get(WORKSPACE_ID) == b.id
    finally:
        await terminate_all(temporal_env.client, await runs_of(db, sub_id))
