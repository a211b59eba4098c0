"""StripeReconcileWorkflow: one sweep for Stripe Checkout Sessions whose webhook never arrived."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stripe_reconcile import ReconcileInput, ReconcileResult, StripeReconcileActivities

SCHEDULE_ID = "billflow-stripe-reconcile"
EVERY = timedelta(minutes=15)


@workflow.defn
class StripeReconcileWorkflow:
    """Ask Stripe about every open session older than a few minutes and record the paid ones; Stripe's 429/5xx
    are retried with backoff, a 4xx stops the sweep with Stripe's message."""

    @workflow.run
    async def run(self, data: ReconcileInput) -> ReconcileResult:
        return await workflow.execute_activity_method(
            StripeReconcileActivities.reconcile_checkout_sessions,
            data,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=5),
                maximum_interval=timedelta(minutes=5),
                maximum_attempts=10,
                non_retryable_error_types=["StripeRejected"],
            ),
        )
