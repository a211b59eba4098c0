"""Invoice runs as an operator sees them in the Temporal UI, read back through the client on the dev server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import start_invoice
from models.workflow_io import InvoiceState, InvoiceWorkflowInput, MarkPaid, PauseReminders, ResumeReminders
from tests.factories import make_booking
from tests.workspaces.support import make_workspace
from worker import build_worker
from workflows.invoice import InvoiceWorkflow
from workflows.search_attributes import (
    ALL_KEYS,
    AMOUNT_DUE_MINOR,
    CLIENT_ID,
    CURRENCY,
    DUE_DATE,
    INVOICE_NUMBER,
    INVOICE_STATUS,
    SUBSCRIPTION_ID,
    WORKSPACE_ID,
    dev_server_flags,
)

pytestmark = pytest.mark.devserver

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()

# make_booking: 2 x 150.00 + 20 % tax, plus 25.00 travel.
TOTAL = 38_500
# Issued on a fixed Monday (UTC and Europe/London agree in winter), due 14 days later at the end of that day.
ISSUED_AT = datetime(2036, 11, 17, 10, 0, tzinfo=UTC)


@pytest.fixture
async def dev_worker(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue) as running:
        yield running


async def _until(handle: WorkflowHandle, done, timeout: float = 15.0) -> InvoiceState:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    state = None
    while asyncio.get_running_loop().time() < deadline:
        state = await handle.query(InvoiceWorkflow.status)
        if state is not None and done(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s: {state!r}")


async def _details(handle: WorkflowHandle) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def _attributes_settle(handle: WorkflowHandle, key, expected, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """Describe is read from the visibility store, which trails the upsert slightly."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        attrs = (await handle.describe()).typed_search_attributes
        if attrs.get(key) == expected or asyncio.get_running_loop().time() > deadline:
            return attrs
        await asyncio.sleep(0.1)


def test_dev_server_flags_register_every_key() -> None:
    flags = dev_server_flags()
    assert flags[::2] == ["--search-attribute"] * len(ALL_KEYS)
    assert dict(f.split("=") for f in flags[1::2]) == {
        "InvoiceStatus": "Keyword",
        "InvoiceNumber": "Keyword",
        "ClientId": "Keyword",
        "AmountDueMinor": "Int",
        "Currency": "Keyword",
        "DueDate": "Datetime",
        "SubscriptionId": "Keyword",
        "WorkspaceId": "Int",
    }


async def test_issued_invoice_is_searchable_by_every_key(dev_env: WorkflowEnvironment, dev_worker: Worker) -> None:
    subscription = f"sub-{uuid.uuid4().hex[:8]}"
    booking = make_booking(issued_at=ISSUED_AT, subscription_id=subscription)
    handle = await start_invoice(dev_env.client, booking, task_queue=dev_worker.task_queue)
    state = await _until(handle, lambda s: s.issued_email_sent)

    attrs = await _attributes_settle(handle, INVOICE_NUMBER, state.number)
    assert attrs.get(INVOICE_STATUS) == "open"
    assert attrs.get(INVOICE_NUMBER) == state.number
    assert attrs.get(AMOUNT_DUE_MINOR) == TOTAL
    assert attrs.get(CURRENCY) == "GBP"
    assert attrs.get(DUE_DATE) == datetime(2036, 12, 1, tzinfo=UTC)
    assert attrs.get(SUBSCRIPTION_ID) == subscription
    client_id = attrs.get(CLIENT_ID)
    assert client_id is not None and client_id.isdigit()
    # No personal data: neither the client's name nor email appears in any attribute.
    values = [str(pair.value) for pair in attrs]
    assert not any(booking.client.email in v or booking.client.name in v for v in values)

    # The query an operator types finds this run and only this one.
    query = f'InvoiceNumber = "{state.number}" AND InvoiceStatus = "open" AND AmountDueMinor = {TOTAL}'
    found = [wf.id async for wf in _list_eventually(dev_env.client, query)]
    assert found == [booking.workflow_id]
    # Due-date ranges and the client, as docs/operations.md shows them.
    query = (
        f'ClientId = "{client_id}" AND DueDate >= "2036-12-01T00:00:00Z" AND DueDate < "2036-12-02T00:00:00Z"'
        f' AND SubscriptionId = "{subscription}" AND Currency = "GBP"'
    )
    assert [wf.id async for wf in _list_eventually(dev_env.client, query)] == [booking.workflow_id]


async def _list_eventually(client: Client, query: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        runs = [wf async for wf in client.list_workflows(query)]
        if runs or asyncio.get_running_loop().time() > deadline:
            for wf in runs:
                yield wf
            return
        await asyncio.sleep(0.2)


async def test_current_details_name_the_next_reminder_in_local_time(
    dev_env: WorkflowEnvironment, dev_worker: Worker
) -> None:
    # Standard policy: -3d, 0, +3d, +7d, +14d at 09:00 Europe/London; due 2036-12-01, so step 1 is 11-28.
    booking = make_booking(issued_at=ISSUED_AT)
    handle = await start_invoice(dev_env.client, booking, task_queue=dev_worker.task_queue)
    state = await _until(handle, lambda s: s.issued_email_sent)

    details = await _details(handle)
    assert state.number in details
    assert "due 2036-12-01" in details
    assert "Next: reminder 1 of 5 at 2036-11-28 09:00 Europe/London" in details


async def test_timer_and_activities_carry_summaries(dev_env: WorkflowEnvironment, dev_worker: Worker) -> None:
    handle = await start_invoice(dev_env.client, make_booking(issued_at=ISSUED_AT), task_queue=dev_worker.task_queue)
    await _until(handle, lambda s: s.issued_email_sent)
    converter = dev_env.client.data_converter  # summaries are encrypted payloads: decoded with the codec
    summaries = {
        (await converter.decode([event.user_metadata.summary], [str]))[0]
        async for event in handle.fetch_history_events()
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary")
    }
    assert "invoice_issued email" in summaries
    assert "reminder 1 of 5 at 2036-11-28 09:00 Europe/London" in summaries  # the timer


async def test_attributes_and_details_follow_pause_and_payment(
    dev_env: WorkflowEnvironment, dev_worker: Worker
) -> None:
    handle = await start_invoice(dev_env.client, make_booking(issued_at=ISSUED_AT), task_queue=dev_worker.task_queue)
    await _until(handle, lambda s: s.issued_email_sent)

    until = datetime(2036, 11, 30, 12, 0, tzinfo=UTC)
    pause = PauseReminders(until=until)
    await handle.signal(InvoiceWorkflow.pause_reminders, pause)
    await _until(handle, lambda s: pause.action_id in s.processed_action_ids)
    skipped = "(reminder 1 of 5 at 2036-11-28 09:00 Europe/London will be skipped)"
    assert f"Next: paused until 2036-11-30 12:00 UTC {skipped}" in await _details(handle)

    partial = MarkPaid(amount_minor=10_000)
    await handle.signal(InvoiceWorkflow.mark_paid, partial)
    await _until(handle, lambda s: partial.action_id in s.processed_action_ids)
    attrs = await _attributes_settle(handle, AMOUNT_DUE_MINOR, TOTAL - 10_000)
    assert attrs.get(AMOUNT_DUE_MINOR) == TOTAL - 10_000
    assert attrs.get(INVOICE_STATUS) == "partially_paid"

    await handle.signal(InvoiceWorkflow.mark_paid, MarkPaid())
    await handle.result()
    attrs = await _attributes_settle(handle, INVOICE_STATUS, "paid")
    assert attrs.get(INVOICE_STATUS) == "paid"
    assert attrs.get(AMOUNT_DUE_MINOR) == 0


async def test_every_query_in_the_operations_guide_is_accepted(dev_env: WorkflowEnvironment) -> None:
    block = GUIDE.split("```text\n", 1)[1].split("```", 1)[0]
    queries = [line for line in block.splitlines() if line.strip()]
    assert len(queries) >= 5
    for query in queries:
        [wf async for wf in dev_env.client.list_workflows(query, limit=1)]  # raises on an invalid query


async def test_runs_are_listed_by_their_workspace(
    dev_env: WorkflowEnvironment, dev_worker: Worker, db: Database
) -> None:
    """`WorkspaceId = N` in the Temporal UI lists that business's runs, and its runs' ids name it."""
    workspace = await make_workspace(db)
    booking = make_booking(issued_at=ISSUED_AT).model_copy(update={"workspace_id": workspace.id})
    other = make_booking(issued_at=ISSUED_AT)  # the first workspace's
    handle = await start_invoice(dev_env.client, booking, task_queue=dev_worker.task_queue)
    await start_invoice(dev_env.client, other, task_queue=dev_worker.task_queue)
    assert handle.id == f"invoice-w{workspace.id}-{booking.source}-{booking.booking_id}"
    # Set with the start: the run is found before its first upsert.
    assert (await handle.describe()).typed_search_attributes.get(WORKSPACE_ID) == workspace.id

    await _until(handle, lambda s: s.issued_email_sent)
    found = [wf.id async for wf in _list_eventually(dev_env.client, f"WorkspaceId = {workspace.id}")]
    assert found == [handle.id]


async def test_a_booking_started_before_workspaces_meets_its_run(
    dev_env: WorkflowEnvironment, dev_worker: Worker
) -> None:
    """A run in flight under its old id (`invoice-{source}-{booking}`) is the booking's run after the upgrade:
    the same booking delivered again starts no second run under the new id."""
    booking = make_booking(issued_at=ISSUED_AT)
    old = await dev_env.client.start_workflow(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(booking=booking),
        id=booking.legacy_workflow_id,
        task_queue=dev_worker.task_queue,
    )
    again = await start_invoice(dev_env.client, booking, task_queue=dev_worker.task_queue)
    assert again.id == old.id == f"invoice-{booking.source}-{booking.booking_id}"
    runs = [wf.id async for wf in dev_env.client.list_workflows(f'WorkflowId = "{booking.workflow_id}"')]
    assert runs == []


async def test_a_run_started_before_workspaces_keeps_its_child_ids_when_it_continues_as_new(
    dev_env: WorkflowEnvironment, dev_worker: Worker
) -> None:
    """A run started without WorkspaceId has it upserted once patched, so the run it continues as cannot tell
    from the attribute that its children (interest invoices) keep the old ids: the run carries it."""
    booking = make_booking(issued_at=ISSUED_AT)
    handle = await dev_env.client.start_workflow(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(booking=booking, max_history_events=20),
        id=booking.legacy_workflow_id,
        task_queue=dev_worker.task_queue,
    )
    first_run = handle.result_run_id
    for n in range(8):  # each applied action writes history: past 20 events
        await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(action_id=f"pause-{n}"))
        await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id=f"resume-{n}"))
    latest = dev_env.client.get_workflow_handle(handle.id)
    deadline = asyncio.get_running_loop().time() + 20
    while (described := await latest.describe()).run_id == first_run:
        assert asyncio.get_running_loop().time() < deadline, "the run never continued as new"
        await asyncio.sleep(0.2)
    # The continued run has the attribute (upserted by the first), and still the old-id decision in its input.
    assert described.typed_search_attributes.get(WORKSPACE_ID) == booking.workspace_id
    async for event in latest.fetch_history_events():
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [carried] = await dev_env.client.data_converter.decode(payloads, [InvoiceWorkflowInput])
        assert carried.workspace_ids is False
        break
