"""The cut-over: an invoice run started before encryption (clear payloads in its history) is picked up by an
encrypting worker, takes an encrypted payment signal and completes."""

from __future__ import annotations

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from billflow.codec import ENCODING
from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import send_payment, start_invoice
from models.enums import InvoiceStatus
from models.workflow_io import InvoiceOutcome
from tests.codec.support import payloads_in, personal_booking
from tests.workflows.support import issued, payment
from worker import build_worker

pytestmark = pytest.mark.devserver


async def test_a_run_started_without_encryption_completes_with_it(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    target = dev_env.client.service_client.config.target_host
    before = await Client.connect(target, namespace=dev_env.client.namespace, data_converter=pydantic_data_converter)
    data = personal_booking()
    async with build_worker(before, db, settings, task_queue=task_queue):  # the release before encryption
        handle = await start_invoice(before, data, task_queue=task_queue)
        state = await issued(handle)

    after = dev_env.client  # encrypting: a fresh worker replays the clear history, then goes on encrypted
    async with build_worker(after, db, settings, task_queue=task_queue):
        await send_payment(after, data.workflow_id, payment(state.total_minor))
        outcome = await after.get_workflow_handle(data.workflow_id, result_type=InvoiceOutcome).result()
    assert outcome.status is InvoiceStatus.paid

    history = await before.get_workflow_handle(data.workflow_id).fetch_history()
    encodings = {p.metadata.get("encoding") for e in history.events for p in payloads_in(e)}
    assert {b"json/plain", ENCODING} <= encodings  # both eras in one history
