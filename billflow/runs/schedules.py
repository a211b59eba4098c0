"""The worker's housekeeping sweeps as Temporal Schedules: visible, pausable and triggerable in the UI and CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.stripe_reconcile import ReconcileInput
from billflow.config import PaymentBackend, Settings
from models.workflow_io import ResendUnsettledInput
from workflows import email_reconcile, stripe_reconcile
from workflows.email_reconcile import EmailReconcileWorkflow
from workflows.stripe_reconcile import StripeReconcileWorkflow


async def ensure_interval_schedule(
    client: Client,
    schedule_id: str,
    workflow_run: Any,
    arg: Any,
    *,
    every: timedelta,
    task_queue: str,
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
) -> None:
    """Create the schedule once; an existing one is left as an operator may have changed or paused it."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(workflow_run, arg, id=f"{schedule_id}-run", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=overlap),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except RPCError as err:
        if err.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
    except Exception as err:  # temporalio raises ScheduleAlreadyRunningError for an existing id
        if type(err).__name__ != "ScheduleAlreadyRunningError":
            raise


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Schedules the worker's configuration calls for (idempotent): the Stripe reconciliation sweep, and the
    unsettled-email sweep when SendGrid's Event Webhook gives the evidence it needs."""
    if settings.payment_backend is PaymentBackend.stripe:
        await ensure_interval_schedule(
            client,
            stripe_reconcile.SCHEDULE_ID,
            StripeReconcileWorkflow.run,
            ReconcileInput(),
            every=stripe_reconcile.EVERY,
            task_queue=settings.task_queue,
        )
    if settings.email_reconciliation:
        await ensure_interval_schedule(
            client,
            email_reconcile.SCHEDULE_ID,
            EmailReconcileWorkflow.run,
            ResendUnsettledInput(resend_after_seconds=settings.email_resend_after_seconds),
            every=timedelta(seconds=settings.email_reconcile_every_seconds),
            task_queue=settings.task_queue,
            # A sweep whose worker died waits out its heartbeat timeout; the next ones need not wait for it
            # (each message is claimed in its own transaction, so overlapping sweeps never send one twice).
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        )
