"""Late-payment interest for the invoice workflow: the interest invoice a policy step issues."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from billflow.db import Database
from billflow.services import interest
from models.workflow_io import PreparedInterest, PrepareInterestInput


class InterestActivities:
    """Run as a local activity: a few reads; the workflow starts the interest invoice's own run."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    async def prepare_interest_invoice(self, data: PrepareInterestInput) -> PreparedInterest:
        try:
            async with self._db.session() as session:
                return await interest.prepare_interest_booking(session, invoice_id=data.invoice_id, as_of=data.as_of)
        except interest.InvoiceNotFound as err:
            raise ApplicationError(str(err), type="InvoiceNotFound", non_retryable=True) from err
