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
from activities.interest import InterestActivities
from activities.invoices import InvoiceActivities
from activities.payments import PaymentActivities
from activities.subscriptions import SubscriptionActivities
from billflow import render_pool
from billflow.config import PaymentBackend, Settings, get_settings
from billflow.db import ALL_WORKSPACES, Database, resolve_database_url
from billflow.email import build_email_sender
from billflow.payments import build_payment_provider
from billflow.process import exit_now  # also imported as worker.exit_now
from billflow.runs.outbox_relay import OutboxRelay
from billflow.runs.schedules import ensure_schedules
from billflow.worker_telemetry import TelemetryInterceptor
from workflows.email_reconcile import EmailReconcileWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.stripe_reconcile import StripeReconcileWorkflow
from workflows.subscription import SubscriptionWorkflow

log = logging.getLogger("billflow.worker")

WORKFLOWS: Sequence[type] = (InvoiceWorkflow, SubscriptionWorkflow, StripeReconcileWorkflow, EmailReconcileWorkflow)


def build_activities(db: Database, settings: Settings) -> list[Any]:
    invoices = InvoiceActivities(db, settings)
    payments = PaymentActivities(db, build_payment_provider(settings))
    email = EmailActivities(db, build_email_sender(settings), settings)
    interest = InterestActivities(db)
    return [
        invoices.record_invoice,
        invoices.record_payment,
        invoices.read_settlement,
        invoices.apply_transition,
        payments.create_payment_link,
        email.send_invoice_email,
        email.resend_unsettled_emails,
        schedule_activities.plan_reminders,
        schedule_activities.compute_extended_due,
        interest.prepare_interest_invoice,
        *subscription_activities(db),
        *stripe_activities(db, settings),
    ]


def stripe_activities(db: Database, settings: Settings) -> list[Any]:
    """The sweep for missed Stripe webhooks, only when Stripe is the payment backend."""
    if settings.payment_backend is not PaymentBackend.stripe:
        return []
    from activities.stripe_reconcile import StripeReconcileActivities
    from billflow.payments.stripe import build_stripe_gateway
    from billflow.secret_box import secret_box_for

    gateway = build_stripe_gateway(
        settings.stripe_api_key, api_base=settings.stripe_api_base, secrets=secret_box_for(settings)
    )
    return [StripeReconcileActivities(db, gateway).reconcile_checkout_sessions]


# The sandbox still refuses non-deterministic calls (clock, random, I/O) in workflow code, but imports every module
# from outside instead of re-importing it for each run: billflow's workflow modules keep no module-level state,
# and re-importing was the largest CPU cost per invoice (bench/lifecycle.py: 0.37 -> 0.5 of the floor).
SANDBOX = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_all_modules())


def subscription_activities(db: Database) -> list[Any]:
    subscriptions = SubscriptionActivities(db)
    return [
        subscriptions.next_subscription_period,
        subscriptions.find_subscription_period,
        subscriptions.subscription_period_booking,
        subscriptions.record_subscription_period,
        subscriptions.apply_subscription_change,
    ]


class RelayingWorker(Worker):
    """The worker, with the outbox relay beside it for as long as it runs: what requests committed to the outbox
    (billflow/runs/outbox_relay.py) reaches Temporal from every process that runs a worker (`billflow dev`,
    `python worker.py`, tests)."""

    def __init__(self, client: Client, *, relay: OutboxRelay, **options: Any) -> None:
        super().__init__(client, **options)
        self._relay = relay

    async def run(self) -> None:
        stop = asyncio.Event()
        relay = asyncio.create_task(self._relay.run(stop), name="outbox-relay")
        try:
            await super().run()
        finally:
            stop.set()
            await relay


def build_worker(
    client: Client,
    db: Database,
    settings: Settings,
    *,
    task_queue: str | None = None,
    executor: ThreadPoolExecutor | None = None,
    graceful_shutdown: timedelta = timedelta(seconds=20),
) -> Worker:
    """`graceful_shutdown`: how long in-flight activities may finish after a stop before they are cancelled
    (and retried by the server elsewhere); `billflow dev` passes a short one so Ctrl-C stops it promptly."""
    return RelayingWorker(
        client,
        relay=OutboxRelay(db, client),
        task_queue=task_queue or settings.task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=SANDBOX,
        activities=build_activities(db, settings),
        activity_executor=executor,
        max_concurrent_activities=200,
        max_concurrent_local_activities=200,
        max_cached_workflows=settings.worker_cache_size,
        max_concurrent_workflow_tasks=settings.worker_workflow_tasks,
        graceful_shutdown_timeout=graceful_shutdown,
        interceptors=[TelemetryInterceptor()],
    )


async def run_until_stopped(worker: Worker, stopping: asyncio.Event | None = None) -> None:
    """Poll until SIGTERM or SIGINT, then shut down gracefully: stop polling at once (other workers on the task
    queue take new tasks), give in-flight activities graceful_shutdown_timeout to finish, then cancel the rest,
    which the server retries on another worker. `stopping` is set when the signal arrives."""
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        async with worker:
            await stopping.wait()
            log.info("shutting down: no new tasks; waiting for in-flight activities")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("worker stopped")


async def run_worker(settings: Settings | None = None) -> None:
    from billflow.logging import configure_logging
    from billflow.temporal import connect
    from billflow.worker_telemetry import health_app, health_server, install_sdk_metrics

    settings = settings or get_settings()
    configure_logging(settings)
    if settings.metrics_port is not None:
        install_sdk_metrics()  # before the first client: the runtime is chosen when connecting
    # One worker serves every workspace: its sessions use the named bypass of row-level security.
    db = Database(resolve_database_url(settings), row_security=settings.row_security, unscoped=ALL_WORKSPACES)
    await db.create_schema()
    client = await connect(settings)
    worker = build_worker(client, db, settings)
    await ensure_schedules(client, settings)
    stopping = asyncio.Event()
    endpoint = None
    if settings.metrics_port is not None:
        endpoint = health_server(health_app(worker, db, client, stopping), settings)
        serving = asyncio.create_task(endpoint.serve())
        log.info("metrics and health on http://%s:%s", settings.metrics_host, settings.metrics_port)
    log.info("worker polling task queue %r at %s", settings.task_queue, settings.temporal_address)
    try:
        with render_pool.started(settings.render_processes):
            await run_until_stopped(worker, stopping)
    finally:
        if endpoint is not None:
            endpoint.should_exit = True
            await serving
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(run_worker())
    exit_now(0)
