"""On the real dev server: a whole invoice run leaves no client name, email, time zone or line description in
any payload Temporal stores, read with a client that has no codec (what an operator of the cluster sees)."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import send_action, send_payment, start_invoice
from models.enums import InvoiceStatus
from models.workflow_io import InvoiceWorkflowInput, ResumeReminders
from tests.codec.support import CLIENT_EMAIL, leaked, personal_booking, unencrypted
from tests.workflows.support import days_policy, issued, payment, until
from worker import build_worker

pytestmark = pytest.mark.devserver


async def test_a_paid_invoice_run_stores_no_personal_data_in_clear(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = personal_booking(reminder_policy=days_policy(-3, 3))
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        await send_action(dev_env.client, data.workflow_id, ResumeReminders(action_id="not-paused"))  # rejected
        await until(handle, lambda s: s.last_rejection is not None)
        # Query answers travel through the server too: the status and the UI's current details, read raw.
        for query_type in ("status", "__temporal_workflow_metadata"):
            answer = await dev_env.client.workflow_service.query_workflow(
                QueryWorkflowRequest(
                    namespace=dev_env.client.namespace,
                    execution=WorkflowExecution(workflow_id=data.workflow_id),
                    query=WorkflowQuery(query_type=query_type),
                )
            )
            assert answer.query_result.payloads and unencrypted(answer) == [] and leaked(answer) == []
        await send_payment(dev_env.client, data.workflow_id, payment(state.total_minor))
        assert (await handle.result()).status is InvoiceStatus.paid

    target = dev_env.client.service_client.config.target_host
    raw = await Client.connect(target, namespace=dev_env.client.namespace)  # no codec: the server's view
    history = await raw.get_workflow_handle(data.workflow_id).fetch_history()
    assert len(history.events) > 10
    for event in history.events:
        assert leaked(event) == [], f"event {event.event_id} ({event.event_type}) holds personal data"
        assert unencrypted(event) == [], f"event {event.event_id} ({event.event_type}) has a clear payload"
    description = await raw.get_workflow_handle(data.workflow_id).describe()
    assert leaked(description.raw_description) == []
    assert unencrypted(description.raw_description) == []  # the static summary and current details too

    # With the codec the same history reads back: the input holds the client, as it did before encryption.
    decoded = await dev_env.client.get_workflow_handle(data.workflow_id).fetch_history()
    started = decoded.events[0].workflow_execution_started_event_attributes
    (start_input,) = await dev_env.client.data_converter.decode(started.input.payloads, [InvoiceWorkflowInput])
    assert start_input.booking.client.email == CLIENT_EMAIL
