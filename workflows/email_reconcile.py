"""EmailReconcileWorkflow: one sweep for emails handed to SendGrid whose answer never came back."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities
    from models.workflow_io import ResendUnsettledInput, ResendUnsettledResult

SCHEDULE_ID = "billflow-email-reconcile"


@workflow.defn
class EmailReconcileWorkflow:
    """Re-send the unsettled emails SendGrid's events show it never received (activities/email.py)."""

    @workflow.run
    async def run(self, data: ResendUnsettledInput) -> ResendUnsettledResult:
        return await workflow.execute_activity_method(
            EmailActivities.resend_unsettled_emails,
            data,
            start_to_close_timeout=timedelta(minutes=45),
            heartbeat_timeout=timedelta(seconds=60),  # beats after every message; one hand-over is <= 25 s
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5),
        )
