"""A booking paid inside Cal.com sends no reminder, checked over 40 skipped days on a time-skipping server of its
own (the session's server also holds other tests' open invoices, whose timers would hold time skipping back)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.temporal import ensure_search_attributes
from models.email_messages import EmailMessage
from models.enums import InvoiceStatus
from models.payments import Payment
from models.workflow_io import InvoiceOutcome
from tests.api.support import started_run
from tests.calcom.checks import CATALOG_TOTAL, catalog_slug, one_invoice
from tests.calcom.payloads import delivery, documented_example, post
from tests.conftest import TEST_CONVERTER


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    own = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER,
        test_server_existing_path=shutil.which("temporal-test-server"),
    )
    await ensure_search_attributes(own.client)
    yield own
    await own.shutdown()


async def _email_kinds(db: Database, invoice_id: int | None) -> list[str]:
    async with db.session() as session:
        return list((await session.exec(select(EmailMessage.kind).where(EmailMessage.invoice_id == invoice_id))).all())


async def test_paid_booking_is_paid_via_calcom_and_sends_no_reminder(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database, env: WorkflowEnvironment
) -> None:
    name, secret = calcom
    # Paid inside Cal.com before billflow saw the booking: created and paid in one go.
    paid = delivery(documented_example(event_type=await catalog_slug(db)), "BOOKING_PAID", paymentId=4242)
    response = await post(http, name, secret, paid)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "paid"
    # The BOOKING_CREATED that follows changes nothing.
    created = delivery(paid, "BOOKING_CREATED")
    assert (await post(http, name, secret, created)).json()["outcome"] == "invoice_exists"

    invoice = await one_invoice(db, name)
    assert invoice.status == InvoiceStatus.paid
    async with db.session() as session:
        payments = (await session.exec(select(Payment).where(Payment.invoice_id == invoice.id))).all()
    assert [(p.provider, p.amount_minor, p.provider_reference) for p in payments] == [
        ("calcom", CATALOG_TOTAL, f"{name}:4242")
    ]
    await started_run(worker.client, invoice.workflow_id)  # the relay starts it: skip time only once it runs
    await env.sleep(timedelta(days=40))  # past every reminder step and the due date
    outcome = await worker.client.get_workflow_handle(invoice.workflow_id, result_type=InvoiceOutcome).result()
    assert outcome.status == InvoiceStatus.paid and outcome.reminders_sent == 0
    kinds = await _email_kinds(db, invoice.id)
    assert "reminder" not in kinds and "overdue" not in kinds


async def test_unpaid_booking_does_get_reminders(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database, env: WorkflowEnvironment
) -> None:
    """The control: the same 40 days without a Cal.com payment send reminders."""
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    assert (await post(http, name, secret, created)).json()["outcome"] == "invoice_started"
    invoice = await one_invoice(db, name)
    await started_run(worker.client, invoice.workflow_id)  # the relay starts it: skip time only once it runs
    await env.sleep(timedelta(days=40))
    kinds = await _email_kinds(db, invoice.id)
    assert "reminder" in kinds and "overdue" in kinds
