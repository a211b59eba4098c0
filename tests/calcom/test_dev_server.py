"""The Cal.com flow on the real Temporal dev server: signal-with-start for a booking paid before billflow saw it,
and a booking that is created, rescheduled and cancelled."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from models.enums import InvoiceStatus
from tests.calcom.checks import CATALOG_TOTAL, catalog_slug, invoices_of, one_invoice
from tests.calcom.payloads import delivery, documented_example, new_uid, post


@pytest.fixture
def env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return dev_env


async def test_paid_first_creates_and_pays_in_one_go(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    paid = delivery(documented_example(event_type=await catalog_slug(db)), "BOOKING_PAID")
    response = await post(http, name, secret, paid)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "paid"
    invoice = await one_invoice(db, name)
    assert (invoice.status, invoice.amount_paid_minor) == (InvoiceStatus.paid, CATALOG_TOTAL)


async def test_created_rescheduled_cancelled_is_one_void_invoice(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    assert (await post(http, name, secret, created)).json()["outcome"] == "invoice_started"
    moved = delivery(created, "BOOKING_RESCHEDULED", uid=new_uid(), rescheduleUid=created["payload"]["uid"])
    assert (await post(http, name, secret, moved)).json()["outcome"] == "rescheduled"
    cancelled = delivery(moved, "BOOKING_CANCELLED", cancellationReason="sick")
    assert (await post(http, name, secret, cancelled)).json()["outcome"] == "voided"
    # The void is the run's to apply: the answer committed its signal to the outbox, the relay delivers it.
    deadline = asyncio.get_running_loop().time() + 30
    while (statuses := [i.status for i in await invoices_of(db, name)]) != [InvoiceStatus.void]:
        assert asyncio.get_running_loop().time() < deadline, statuses
        await asyncio.sleep(0.1)
