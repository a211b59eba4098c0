"""The path for missed Stripe webhooks: a sweep that asks Stripe about every Checkout Session still open here.

Runs as an activity (`StripeReconcileActivities.reconcile_checkout_sessions`) of the small
`StripeReconcileWorkflow` (workflows/stripe_reconcile.py), started every 15 minutes by a Temporal Schedule
(billflow.runs.schedules). 429 and 5xx from Stripe fail the activity and its retry policy tries again with
backoff; a session Stripe refuses to show (4xx) is skipped and logged. A paid session is recorded exactly as
the webhook would have recorded it (keyed by the session id), so a webhook arriving later records nothing new.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from billflow.db import Database
from billflow.payments.stripe import StripeGateway, StripeRejected, StripeUnavailable
from billflow.services.checkout import reconcile_sessions


class ReconcileInput(BaseModel):
    # Sessions younger than this are left to their webhook.
    older_than_seconds: int = Field(default=300, ge=0)
    limit: int = Field(default=200, ge=1, le=5000)


class ReconcileResult(BaseModel):
    checked: int
    paid: int


class StripeReconcileActivities:
    """Checkout Session reconciliation against Stripe; signals invoice workflows through the worker's client."""

    def __init__(self, db: Database, gateway: StripeGateway, client: Client | None = None) -> None:
        self._db = db
        self._gateway = gateway
        self._client = client

    @activity.defn
    async def reconcile_checkout_sessions(self, data: ReconcileInput) -> ReconcileResult:
        client = self._client or activity.client()
        try:
            report = await reconcile_sessions(
                self._db,
                client,
                self._gateway,
                older_than=timedelta(seconds=data.older_than_seconds),
                limit=data.limit,
            )
        except StripeUnavailable:
            raise  # transient: the retry policy tries again with backoff
        except StripeRejected as err:
            raise ApplicationError(f"Stripe refused: {err}", type="StripeRejected", non_retryable=True) from err
        activity.logger.info("reconciled %d checkout sessions, %d paid", report.checked, report.paid)
        return ReconcileResult(checked=report.checked, paid=report.paid)
