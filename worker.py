"""The billflow worker: invoice workflows and their activities on one task queue.

python worker.py            # against TEMPORAL_ADDRESS (default: the local dev server)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import schedule as schedule_activities
from activities.email import EmailActivities
from activities.invoices import InvoiceActivities
from activities.payments import PaymentActivities
from activities.subscriptions import SubscriptionActivities
from billflow.config import Settings, get_settings
from billflow.db import Database, resolve_database_url
from billflow.email import build_email_sender
from billflow.payments import build_payment_provider
from workflows.invoice import InvoiceWorkflow
from workflows.subscription import SubscriptionWorkflow

log = logging.getLogger("billflow.worker")

WORKFLOWS: Sequence[type] = (InvoiceWorkflow, SubscriptionWorkflow)


def build_activities(db: Database, settings: Settings) -> list[Any]:
    invoices = InvoiceActivities(db)
    payments = PaymentActivities(db, build_payment_provider(settings))
    email = EmailActivities(db, build_email_sender(settings), settings)
    return [
        invoices.record_invoice,
        invoices.record_payment,
        invoices.apply_transition,
        payments.create_payment_link,
        email.send_invoice_email,
        schedule_activities.plan_reminders,
        schedule_activities.compute_extended_due,
        *subscription_activities(db),
    ]


# Imported lazily by pydantic/babel while validating payloads: pass them through instead of re-importing them
# inside every workflow sandbox (they are deterministic libraries).
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "babel", "idna")
)


def subscription_activities(db: Database) -> list[Any]:
    subscriptions = SubscriptionActivities(db)
    return [
        subscriptions.next_subscription_period,
        subscriptions.find_subscription_period,
        subscriptions.subscription_period_booking,
        subscriptions.record_subscription_period,
        subscriptions.apply_subscription_change,
    ]


def build_worker(
    client: Client,
    db: Database,
    settings: Settings,
    *,
    task_queue: str | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=SANDBOX,
        activities=build_activities(db, settings),
        activity_executor=executor,
        max_concurrent_activities=200,
        max_concurrent_local_activities=200,
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


async def run_worker(settings: Settings | None = None) -> None:
    from billflow.temporal import connect

    settings = settings or get_settings()
    db = Database(resolve_database_url(settings))
    await db.create_schema()
    client = await connect(settings)
    worker = build_worker(client, db, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling task queue %r at %s", settings.task_queue, settings.temporal_address)
    async with worker:
        await stop.wait()
        log.info("shutting down: finishing in-flight tasks")
    await db.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker())
