"""Per-client reminder settings: stored, applied to new invoices, and signalled to the running ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.services import clients as clients_service
from billflow.services import invoice_runs
from billflow.services.clients import ReminderSettingsChange
from models.client_sources import STAFF_SOURCE
from models.workflow_io import InvoiceState, ReminderPolicy, ReminderStep
from tests.api.support import confirmed_event, post_signed
from tests.factories import make_booking, make_client

Headers = dict[str, str]
CUSTOM = ReminderPolicy(steps=[ReminderStep(offset=timedelta(days=1), template="overdue")], send_hour=10)


async def state_when(
    env: WorkflowEnvironment, workflow_id: str, predicate: Any, *, seconds: float = 10
) -> InvoiceState:
    """Poll the workflow's status query until the predicate holds (signals are applied asynchronously)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        state = await invoice_runs.query_state(env.client, workflow_id)
        if state is not None and predicate(state):
            return state
        assert asyncio.get_running_loop().time() < deadline, f"state never matched: {state}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def client_with_invoices(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], staff_headers: Headers
) -> dict[str, Any]:
    """A client with two open invoices and one paid one."""
    name, secret = integration
    first = confirmed_event()
    client = first["data"]["client"]
    invoices = []
    for body in (first, confirmed_event(client=client), confirmed_event(client=client)):
        answer = (await post_signed(http, name, secret, body)).json()
        invoices.append((answer["invoice_number"], answer["workflow_id"]))
    paid_number = invoices[2][0]
    assert (await http.post(f"/v1/invoices/{paid_number}/mark-paid", headers=staff_headers, json={})).status_code == 200
    return {"external_id": client["external_id"], "open": invoices[:2], "paid": invoices[2]}


async def test_pausing_a_client_pauses_each_open_invoice(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, client_with_invoices: dict[str, Any], staff_headers: Headers
) -> None:
    external_id = client_with_invoices["external_id"]
    response = await http.patch(
        f"/v1/clients/{external_id}/settings", headers=staff_headers, json={"reminders_paused": True}
    )
    assert response.status_code == 200, response.text
    open_numbers = sorted(number for number, _ in client_with_invoices["open"])
    assert sorted(response.json()["signalled"]) == open_numbers  # the paid invoice is left alone
    for _, workflow_id in client_with_invoices["open"]:
        await state_when(time_env, workflow_id, lambda s: s.paused)
    stored = (await http.get(f"/v1/clients/{external_id}/settings", headers=staff_headers)).json()
    assert stored["reminders_paused"] is True


async def test_resuming_a_client_resumes_its_paused_invoices(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, client_with_invoices: dict[str, Any], staff_headers: Headers
) -> None:
    external_id = client_with_invoices["external_id"]
    path = f"/v1/clients/{external_id}/settings"
    await http.patch(path, headers=staff_headers, json={"reminders_paused": True})
    for _, workflow_id in client_with_invoices["open"]:
        await state_when(time_env, workflow_id, lambda s: s.paused)
    # The workflow sets `paused` only after writing it to the database, where resuming looks for paused invoices.
    response = await http.patch(path, headers=staff_headers, json={"reminders_paused": False})
    assert len(response.json()["signalled"]) == 2
    for _, workflow_id in client_with_invoices["open"]:
        await state_when(time_env, workflow_id, lambda s: not s.paused)


async def test_auto_pay_stops_the_reminders_of_open_invoices(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, client_with_invoices: dict[str, Any], staff_headers: Headers
) -> None:
    path = f"/v1/clients/{client_with_invoices['external_id']}/settings"
    response = await http.patch(path, headers=staff_headers, json={"auto_pay": True})
    assert len(response.json()["signalled"]) == 2
    for _, workflow_id in client_with_invoices["open"]:
        await state_when(time_env, workflow_id, lambda s: s.paused)
    # Pausing as well changes nothing more: reminders are already off.
    response = await http.patch(path, headers=staff_headers, json={"reminders_paused": True})
    assert response.json()["signalled"] == []


async def test_settings_change_is_on_the_timeline(
    http: httpx.AsyncClient, client_with_invoices: dict[str, Any], staff_headers: Headers
) -> None:
    external_id = client_with_invoices["external_id"]
    await http.patch(f"/v1/clients/{external_id}/settings", headers=staff_headers, json={"auto_pay": True})
    timeline = (await http.get(f"/v1/clients/{external_id}/timeline", headers=staff_headers)).json()
    changes = [e["message"] for e in timeline if e["kind"] == "client.settings_changed"]
    assert changes == ["Reminder settings: auto-pay on (no reminders)"]


async def test_invalid_policy_is_422_naming_the_field(
    http: httpx.AsyncClient, client_with_invoices: dict[str, Any], staff_headers: Headers
) -> None:
    response = await http.patch(
        f"/v1/clients/{client_with_invoices['external_id']}/settings",
        headers=staff_headers,
        json={"reminder_policy": {"steps": [], "send_hour": 25}},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "reminder_policy", "send_hour"]


async def test_viewer_may_not_change_settings(
    http: httpx.AsyncClient, client_with_invoices: dict[str, Any], viewer_headers: Headers
) -> None:
    response = await http.patch(
        f"/v1/clients/{client_with_invoices['external_id']}/settings", headers=viewer_headers, json={"auto_pay": True}
    )
    assert response.status_code == 403


# --- new invoices follow the client's settings ------------------------------------------------------


async def _client_with(db: Database, env: WorkflowEnvironment, change: ReminderSettingsChange) -> str:
    """A client known to the database (upserted by a first invoice's start path) with these settings."""
    client = make_client()
    async with db.session() as session:
        await clients_repo.upsert_client(session, client=client, source=STAFF_SOURCE, actor="test")
    await clients_service.update_reminder_settings(db, env.client, client.external_id, change, actor="test")
    return client.external_id


async def _start(db: Database, env: WorkflowEnvironment, settings: Settings, external_id: str) -> str:
    """What the booking start path does: the client's effective policy, then start, then a client pause."""
    booking = make_booking(client=make_client(external_id=external_id))
    async with db.session() as session:
        policy = await clients_service.effective_reminder_policy(
            session, external_id, booking.reminder_policy, source=booking.client_owner
        )
    booking = booking.model_copy(update={"reminder_policy": policy})
    await invoice_runs.start_invoice(env.client, booking, task_queue=settings.task_queue)
    await clients_service.pause_new_invoice_if_client_paused(
        db, env.client, client_external_id=external_id, source=booking.client_owner, workflow_id=booking.workflow_id
    )
    return booking.workflow_id


async def test_auto_pay_client_gets_invoices_without_reminders(
    db: Database, time_env: WorkflowEnvironment, api_settings: Settings, worker: Worker
) -> None:
    external_id = await _client_with(db, time_env, ReminderSettingsChange(auto_pay=True))
    workflow_id = await _start(db, time_env, api_settings, external_id)
    state = await state_when(time_env, workflow_id, lambda s: s.issued_email_sent)
    assert state.reminders == []


async def test_client_policy_replaces_the_default_on_new_invoices(
    db: Database, time_env: WorkflowEnvironment, api_settings: Settings, worker: Worker
) -> None:
    external_id = await _client_with(db, time_env, ReminderSettingsChange(reminder_policy=CUSTOM))
    workflow_id = await _start(db, time_env, api_settings, external_id)
    state = await state_when(time_env, workflow_id, lambda s: s.issued_email_sent)
    assert [(r.step, r.template) for r in state.reminders] == [(1, "overdue")]
    assert state.reminders[0].at > state.due_at  # the standard policy would start 3 days before


async def test_paused_client_gets_new_invoices_paused(
    db: Database, time_env: WorkflowEnvironment, api_settings: Settings, worker: Worker
) -> None:
    external_id = await _client_with(db, time_env, ReminderSettingsChange(reminders_paused=True))
    workflow_id = await _start(db, time_env, api_settings, external_id)
    state = await state_when(time_env, workflow_id, lambda s: s.paused)
    assert state.paused_until is None


async def test_default_policy_for_clients_without_settings(db: Database) -> None:
    default = ReminderPolicy.standard()
    async with db.session() as session:
        unknown = await clients_service.effective_reminder_policy(session, "never-seen", default, source=STAFF_SOURCE)
    assert unknown == default


async def test_clearing_the_policy_returns_to_the_default(db: Database, time_env: WorkflowEnvironment) -> None:
    external_id = await _client_with(db, time_env, ReminderSettingsChange(reminder_policy=CUSTOM))
    await clients_service.update_reminder_settings(
        db, time_env.client, external_id, ReminderSettingsChange(clear_policy=True), actor="test"
    )
    async with db.session() as session:
        policy = await clients_service.effective_reminder_policy(
            session, external_id, ReminderPolicy.standard(), source=STAFF_SOURCE
        )
    assert policy == ReminderPolicy.standard()
