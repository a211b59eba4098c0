"""Booking to paid through both stand-ins: issue email via SendGrid, pay URL, Stripe Checkout, signed webhook,
paid and a receipt, each exactly once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import EmailBackend, Settings
from billflow.db import Database
from billflow.repositories import payments as payments_repo
from models.enums import InvoiceStatus
from models.workflow_io import InvoiceOutcome
from tests.payments.conftest import deliver, stripe_event
from tests.standins.fixtures import load_invoice, running_worker, sendgrid_api, start_and_wait_issued, web_client
from tests.standins.sendgrid_api import SendGridStandIn
from tests.standins.stripe_api import StripeStandIn
from workflows.invoice import InvoiceWorkflow

__all__ = ["sendgrid_api"]


@pytest.fixture
def e2e_settings(stripe_settings: Settings, sendgrid_api: tuple[SendGridStandIn, str]) -> Settings:
    return stripe_settings.model_copy(
        update={
            "email_backend": EmailBackend.sendgrid,
            "sendgrid_api_key": "SG.e2e",
            "sendgrid_api_host": sendgrid_api[1],
        }
    )


@pytest.fixture
async def e2e_worker(time_env: WorkflowEnvironment, db: Database, e2e_settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(time_env.client, db, e2e_settings) as running:
        yield running


async def test_booking_to_paid_with_one_email_one_session_one_payment_one_receipt(
    time_env: WorkflowEnvironment,
    e2e_worker: Worker,
    e2e_settings: Settings,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    stripe_standin, _ = stripe_api
    sendgrid_standin, _ = sendgrid_api
    invoice = await start_and_wait_issued(time_env.client, e2e_worker, db)

    (issued,) = sendgrid_standin.mails
    assert issued["custom_args"]["billflow_kind"] == "invoice_issued"
    text = issued["content"][0]["value"]
    match = re.search(r"http://billflow\.test(/pay/[\w-]+)", text)
    assert match, text
    pay_path = match.group(1)

    async with web_client(e2e_settings, db, time_env.client) as http:
        visit = await http.get(pay_path)
        assert visit.status_code == 303
        session_id = visit.headers["location"].rsplit("/", 1)[1]
        assert (await http.get(pay_path)).headers["location"] == visit.headers["location"]  # reused

        completed = stripe_event(
            "checkout.session.completed", stripe_standin.complete(session_id), event_id=f"evt_e2e_{session_id}"
        )
        assert (await deliver(http, completed)).json()["outcome"] == "paid"
        handle = time_env.client.get_workflow_handle_for(InvoiceWorkflow.run, invoice.workflow_id)
        outcome: InvoiceOutcome = await handle.result()
        assert outcome.status is InvoiceStatus.paid
        assert (await deliver(http, completed)).json()["outcome"].startswith("duplicate")

        page = await http.get(f"/i/{invoice.public_token}")
        assert "Paid in full" in page.text

    refreshed = await load_invoice(db, invoice.id)
    assert refreshed.status == InvoiceStatus.paid and refreshed.balance_minor == 0
    async with db.session() as session:
        payments = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    assert [(p.provider, p.provider_reference, p.amount_minor) for p in payments] == [("stripe", session_id, 38_500)]
    assert [m["custom_args"]["billflow_kind"] for m in sendgrid_standin.mails] == ["invoice_issued", "receipt"]
    assert len(stripe_standin.writes("/v1/checkout/sessions")) == 1
    state = await time_env.client.get_workflow_handle(invoice.workflow_id).query(InvoiceWorkflow.status)
    assert state is not None and state.receipt_sent
