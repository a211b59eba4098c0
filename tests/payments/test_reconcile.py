"""Missed webhooks: the reconciliation sweep finds sessions completed on Stripe and records them once."""

from __future__ import annotations

import uuid

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.stripe_reconcile import ReconcileInput, ReconcileResult, StripeReconcileActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.payments.stripe import build_stripe_gateway
from billflow.repositories import payments as payments_repo
from models.enums import InvoiceStatus
from tests.payments.conftest import deliver, stripe_event
from tests.standins.fixtures import load_invoice, start_and_wait_issued, wait_until
from tests.standins.server import Fault
from tests.standins.stripe_api import StripeStandIn
from workflows.stripe_reconcile import StripeReconcileWorkflow


async def _sweep(env: WorkflowEnvironment, db: Database, settings: Settings) -> ReconcileResult:
    gateway = build_stripe_gateway(settings.stripe_api_key, api_base=settings.stripe_api_base)
    activities = StripeReconcileActivities(db, gateway)
    queue = f"reconcile-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[StripeReconcileWorkflow],
        activities=[activities.reconcile_checkout_sessions],
    ):
        return await env.client.execute_workflow(
            StripeReconcileWorkflow.run,
            ReconcileInput(older_than_seconds=0),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


async def test_sweep_records_a_session_completed_without_webhook_once(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_settings: Settings,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    visit = await http.get(f"/pay/{invoice.public_token}")
    session_id = visit.headers["location"].rsplit("/", 1)[1]
    session = standin.complete(session_id)  # the client paid; the webhook never came
    standin.inject(Fault(status=500, path_contains=f"/v1/checkout/sessions/{session_id}"))  # and Stripe hiccups

    result = await _sweep(time_env, db, stripe_settings)
    assert result.paid >= 1

    async def paid() -> bool:
        return (await load_invoice(db, invoice.id)).status == InvoiceStatus.paid

    await wait_until(paid)
    late = stripe_event("checkout.session.completed", session, event_id=f"evt_late_{session_id}")
    assert (await deliver(http, late)).status_code == 200
    async with db.session() as db_session:
        payments = await payments_repo.list_payments(db_session, invoice_id=invoice.id or 0)
    assert [p.provider_reference for p in payments] == [session_id]
    retrieves = [r for r in standin.requests if r.method == "GET" and session_id in r.path]
    assert len(retrieves) == 2  # the 500, then the retry by the activity's policy


async def test_open_unpaid_session_stays_open(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_settings: Settings,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    await http.get(f"/pay/{invoice.public_token}")
    await _sweep(time_env, db, stripe_settings)
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.open
