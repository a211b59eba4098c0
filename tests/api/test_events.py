"""POST /v1/events with the real worker: invoices started once per event, cancellations, reschedules, auth."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, func, select
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.repositories import timeline as timeline_repo
from billflow.runs.outbox_relay import OutboxRelay
from billflow.services import api_keys
from billflow.services.integrations import signed_headers
from models.api_keys import ApiRole
from models.clients import Client
from models.inbox import InboxEvent
from models.invoices import Invoice
from tests.api.conftest import KeyFactory
from tests.api.support import (
    CONFIRMED_TOTAL,
    confirmed_event,
    event,
    invoice_status_becomes,
    post_signed,
    started_run,
)
from worker import build_worker


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Staff actions here are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


@pytest.fixture
def time_env_client(temporal_env: WorkflowEnvironment) -> Any:
    """The app's Temporal server, for a worker a test starts itself (after events were accepted)."""
    return temporal_env.client


async def _count(db: Database, query: object) -> int:
    async with db.session() as session:
        return int((await session.exec(query)).one())  # type: ignore[call-overload]


async def test_confirmed_event_starts_invoice_and_answers_its_number(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    body = confirmed_event()
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 202, response.text
    answer = response.json()
    booking_id = body["data"]["booking_id"]
    assert answer["workflow_id"] == f"invoice-w1-{name}-{booking_id}"
    assert answer["invoice_number"].startswith("INV-")
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=answer["invoice_number"])
    assert invoice is not None
    assert invoice.total_minor == CONFIRMED_TOTAL
    assert invoice.source_key == f"booking:{name}:{booking_id}"


async def test_an_event_without_payment_terms_takes_its_workspaces(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database
) -> None:
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    name, secret = integration
    body = confirmed_event()
    del body["data"]["payment_terms_days"]
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, WorkspaceUpdate(payment_terms_days=30))
        response = await post_signed(http, name, secret, body)
    assert response.status_code == 202, response.text
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=response.json()["invoice_number"])
    assert invoice is not None
    assert (invoice.due_date - invoice.issue_date).days == 30


async def test_same_event_ten_times_concurrently_makes_one_client_invoice_and_workflow(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    body = confirmed_event()
    responses = await asyncio.gather(*(post_signed(http, name, secret, body) for _ in range(10)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.text for r in responses}) == 1  # every delivery got the first answer
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    external_id = body["data"]["client"]["external_id"]
    assert await _count(db, select(func.count()).select_from(Client).where(Client.external_id == external_id)) == 1
    source_key = f"booking:{name}:{body['data']['booking_id']}"
    assert await _count(db, select(func.count()).select_from(Invoice).where(Invoice.source_key == source_key)) == 1
    stored = select(func.count()).select_from(InboxEvent).where(col(InboxEvent.event_key) == body["id"])
    assert await _count(db, stored) == 1
    workflow_id = responses[0].json()["workflow_id"]
    await started_run(worker.client, workflow_id)
    async with db.session() as session:
        owed = await outbox_repo.list_messages(session, workflow_id=workflow_id)
    assert [m.kind for m in owed] == ["start"]
    history = await worker.client.get_workflow_handle(workflow_id).fetch_history()
    starts = [e for e in history.events if e.HasField("workflow_execution_started_event_attributes")]
    assert len(starts) == 1


async def test_repeated_event_id_with_another_body_is_409(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str]
) -> None:
    name, secret = integration
    body = confirmed_event()
    assert (await post_signed(http, name, secret, body)).status_code == 202
    other = confirmed_event()
    other["id"] = body["id"]
    response = await post_signed(http, name, secret, other)
    assert response.status_code == 409


async def test_cancelled_unpaid_booking_voids_the_invoice(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    confirmed = confirmed_event()
    number = (await post_signed(http, name, secret, confirmed)).json()["invoice_number"]
    response = await post_signed(http, name, secret, event("booking.cancelled", confirmed["data"]["booking_id"]))
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "void_requested"
    assert response.json()["invoice_number"] == number
    # The void is owed to the run through the outbox: the answer waits on no worker; the run applies it.
    assert await invoice_status_becomes(db, number, "void") == "void"


async def test_cancelled_paid_booking_is_flagged_for_a_refund_decision(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database, staff_headers: dict[str, str]
) -> None:
    name, secret = integration
    confirmed = confirmed_event()
    number = (await post_signed(http, name, secret, confirmed)).json()["invoice_number"]
    paid = await http.post(f"/v1/invoices/{number}/mark-paid", headers=staff_headers, json={})
    assert paid.status_code == 200, paid.text
    response = await post_signed(http, name, secret, event("booking.cancelled", confirmed["data"]["booking_id"]))
    assert response.json()["outcome"] == "refund_decision_flagged"
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        assert invoice is not None and invoice.id is not None
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    assert invoice.status == "paid"
    flagged = [e for e in events if e.kind == "booking.cancelled"]
    assert len(flagged) == 1 and flagged[0].data["flag"] == "refund_decision"


async def test_rescheduled_booking_notes_the_timeline_and_keeps_the_invoice(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    confirmed = confirmed_event()
    number = (await post_signed(http, name, secret, confirmed)).json()["invoice_number"]
    moved = event("booking.rescheduled", confirmed["data"]["booking_id"], starts_at="2026-12-01T10:00:00+00:00")
    response = await post_signed(http, name, secret, moved)
    assert response.json()["outcome"] == "rescheduled_noted"
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        assert invoice is not None and invoice.id is not None
        kinds = [e.kind for e in await timeline_repo.list_events(session, invoice_id=invoice.id)]
    assert kinds.count("booking.rescheduled") == 1
    assert invoice.status == "open" and invoice.total_minor == CONFIRMED_TOTAL


# --- authentication ---------------------------------------------------------------------------------


async def test_unsigned_event_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/events", json=confirmed_event())
    assert response.status_code == 401


async def test_wrong_signature_is_401(http: httpx.AsyncClient, integration: tuple[str, str]) -> None:
    name, _ = integration
    response = await post_signed(http, name, "whsec_not-the-secret", confirmed_event())
    assert response.status_code == 401


async def test_tampered_body_is_401(http: httpx.AsyncClient, integration: tuple[str, str]) -> None:
    name, secret = integration
    signed = json.dumps(confirmed_event()).encode()
    headers = signed_headers(name, secret, signed) | {"Content-Type": "application/json"}
    tampered = signed.replace(b'"unit_price_minor": 9000', b'"unit_price_minor": 1')
    assert tampered != signed
    response = await http.post("/v1/events", content=tampered, headers=headers)
    assert response.status_code == 401


async def test_stale_timestamp_is_401(http: httpx.AsyncClient, integration: tuple[str, str]) -> None:
    name, secret = integration
    response = await post_signed(http, name, secret, confirmed_event(), timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "stale" in response.json()["detail"]


async def test_unknown_integration_is_401(http: httpx.AsyncClient) -> None:
    response = await post_signed(http, "nobody", "whsec_x", confirmed_event())
    assert response.status_code == 401


async def test_viewer_key_may_not_post_events(http: httpx.AsyncClient, make_key: KeyFactory) -> None:
    token = await make_key(ApiRole.viewer)
    response = await http.post("/v1/events", json=confirmed_event(), headers={"X-API-Key": token})
    assert response.status_code == 403


async def test_revoked_key_may_not_post_events(http: httpx.AsyncClient, make_key: KeyFactory, db: Database) -> None:
    token = await make_key(ApiRole.staff)
    await api_keys.revoke_key(db, key_id=token.split("_")[1])
    response = await http.post("/v1/events", json=confirmed_event(), headers={"X-API-Key": token})
    assert response.status_code == 401


async def test_staff_key_may_post_events(
    http: httpx.AsyncClient, worker: Worker, staff_headers: dict[str, str]
) -> None:
    body = confirmed_event()
    response = await http.post("/v1/events", json=body, headers=staff_headers)
    assert response.status_code == 202, response.text
    assert response.json()["workflow_id"] == f"invoice-w1-api-{body['data']['booking_id']}"


# --- bad input --------------------------------------------------------------------------------------


async def test_an_unknown_currency_is_422_naming_the_field(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database
) -> None:
    """A missing one is the workspace's default (tests/workspaces/test_invoice_defaults.py)."""
    name, secret = integration
    body = confirmed_event()
    body["data"]["currency"] = "ZZZ"
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 422
    assert any(err["loc"][-1] == "currency" for err in response.json()["detail"])
    assert await _count(db, select(func.count()).select_from(InboxEvent).where(InboxEvent.event_key == body["id"])) == 0


async def test_overflowing_totals_are_422_naming_the_service_and_store_nothing(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    body = confirmed_event(services=[{"description": "All of it", "quantity": 1_000_000, "unit_price_minor": 10**13}])
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 422, response.text
    assert any(err["loc"][-2:] == ["services", 0] and "line total" in err["msg"] for err in response.json()["detail"])
    stored = select(func.count()).select_from(InboxEvent).where(InboxEvent.event_key == body["id"])
    assert await _count(db, stored) == 0
    client = select(func.count()).select_from(Client).where(Client.external_id == body["data"]["client"]["external_id"])
    assert await _count(db, client) == 0


async def test_unknown_event_type_is_422(http: httpx.AsyncClient, integration: tuple[str, str]) -> None:
    name, secret = integration
    response = await post_signed(http, name, secret, {"id": "e1", "type": "booking.exploded", "data": {}})
    assert response.status_code == 422
    assert "type" in json.dumps(response.json()["detail"])


async def test_unknown_schema_version_is_422(http: httpx.AsyncClient, integration: tuple[str, str]) -> None:
    name, secret = integration
    body = confirmed_event() | {"version": 2}
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 422
    assert any("version" in err["loc"] for err in response.json()["detail"])


async def test_cancelling_an_unknown_booking_answers_no_invoice_quickly(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str]
) -> None:
    name, secret = integration
    started = time.monotonic()
    response = await post_signed(http, name, secret, event("booking.cancelled", "bk-never-confirmed"))
    assert response.status_code == 202
    assert response.json()["outcome"] == "no_invoice"
    assert time.monotonic() - started < 2


async def test_cancel_arriving_before_the_run_has_started_still_voids(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database, api_settings: Settings, time_env_client: Any
) -> None:
    name, secret = integration
    confirmed = confirmed_event()
    number = (await post_signed(http, name, secret, confirmed)).json()["invoice_number"]
    response = await post_signed(http, name, secret, event("booking.cancelled", confirmed["data"]["booking_id"]))
    assert response.status_code == 202
    assert response.json()["outcome"] == "void_requested"
    # No worker yet: the start and the void wait in the outbox, in order; the run starts, then voids.
    async with build_worker(time_env_client, db, api_settings, task_queue=api_settings.task_queue):
        assert await invoice_status_becomes(db, number, "void") == "void"


async def test_the_answer_has_the_number_with_the_worker_stopped(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    body = confirmed_event()
    response = await post_signed(http, name, secret, body)  # no worker fixture: nothing runs workflows
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["invoice_number"].startswith("INV-") and answer["invoice_status"] == "open"
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=answer["invoice_number"])
        owed = await outbox_repo.pending(session, workflow_id=answer["workflow_id"])
    assert invoice is not None and invoice.total_minor == CONFIRMED_TOTAL
    assert [(m.kind, m.name) for m in owed] == [("start", "invoice")]


async def test_the_same_event_twice_makes_one_invoice_and_one_start(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    body = confirmed_event()
    first = await post_signed(http, name, secret, body)
    again = await post_signed(http, name, secret, body)
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    source_key = f"booking:{name}:{body['data']['booking_id']}"
    assert await _count(db, select(func.count()).select_from(Invoice).where(Invoice.source_key == source_key)) == 1
    async with db.session() as session:
        assert len(await outbox_repo.list_messages(session, workflow_id=first.json()["workflow_id"])) == 1


async def test_temporal_unreachable_answers_202_and_the_run_starts_once_it_is_back(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database, api_settings: Settings, time_env_client: Any
) -> None:
    name, secret = integration
    temporal = Outage(time_env_client)
    relay = OutboxRelay(db, temporal, retry_after=lambda _: timedelta(0))  # type: ignore[arg-type]
    body = confirmed_event()
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 202 and response.json()["invoice_number"].startswith("INV-")
    workflow_id = response.json()["workflow_id"]
    for _ in range(3):
        await relay.run_once()
    async with db.session() as session:
        (owed,) = await outbox_repo.pending(session, workflow_id=workflow_id)
    assert owed.attempts >= 1 and "connection refused" in (owed.last_error or "")

    temporal.down = False
    async with build_worker(time_env_client, db, api_settings, task_queue=api_settings.task_queue) as running:
        for _ in range(50):
            await relay.run_once()
            async with db.session() as session:
                if not await outbox_repo.pending(session, workflow_id=workflow_id):
                    break
        description = await started_run(running.client, workflow_id)
    assert description.id == workflow_id


class Outage:
    """The Temporal client as the relay sees it, refusing every call while `down`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.down = True

    async def start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
        return await self.client.start_workflow(*args, **kwargs)

    def get_workflow_handle(self, workflow_id: str) -> Any:
        return self.client.get_workflow_handle(workflow_id)


async def test_event_failing_midway_stores_nothing_and_a_retry_succeeds(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, secret = integration
    body = confirmed_event()

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(timeline_repo, "add_event", broken)  # after the invoice was issued, before commit
        await post_signed(http, name, secret, body)
    stored = select(func.count()).select_from(InboxEvent).where(InboxEvent.event_key == body["id"])
    assert await _count(db, stored) == 0
    source_key = f"booking:{name}:{body['data']['booking_id']}"
    assert await _count(db, select(func.count()).select_from(Invoice).where(Invoice.source_key == source_key)) == 0
    async with db.session() as session:
        assert not await outbox_repo.list_messages(session, workflow_id=f"invoice-{name}-{body['data']['booking_id']}")
    retried = await post_signed(http, name, secret, body)
    assert retried.status_code == 202
    assert retried.json()["invoice_number"].startswith("INV-")
    assert "Idempotent-Replayed" not in retried.headers


@pytest.mark.parametrize("name", ["confirmed", "cancelled", "rescheduled"])
def test_example_event_files_match_the_schema(name: str) -> None:
    from pathlib import Path

    from pydantic import TypeAdapter

    from models.booking_events import BookingEventIn

    raw = (Path(__file__).parents[2] / "examples" / f"event-{name}.json").read_text()
    assert TypeAdapter(BookingEventIn).validate_json(raw).type == f"booking.{name}"
