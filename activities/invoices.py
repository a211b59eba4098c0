"""Database writes for the invoice workflow; each keyed so that a retry changes nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import psycopg
from sqlalchemy.exc import DBAPIError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import credit_notes, invoicing
from billflow.services.business_profile import business_profile_in
from models.enums import InvoiceStatus
from models.workflow_io import (
    InvoiceTransition,
    IssuedInvoice,
    PaymentOutcome,
    RecordInvoiceInput,
    RecordPaymentInput,
    SettlementInput,
    TransitionResult,
)


def permanent_database_error(err: DBAPIError) -> bool:
    """Errors no retry can fix: the data itself is refused (out of range, NUL in text, a violated NOT NULL,
    CHECK or foreign key). A unique violation is left to the retry: a concurrent writer's row is found then."""
    cause = err.orig
    if isinstance(cause, psycopg.errors.UniqueViolation):
        return False
    return isinstance(cause, psycopg.DataError | psycopg.IntegrityError)


class InvoiceActivities:
    """Run as local activities: short database transactions in the worker, no extra server round trip.

    A permanent database error ends the activity non-retryably (the workflow fails, visibly in the Temporal UI)
    after a log line and a timeline entry, instead of retrying the same refused write forever.
    """

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self._db = db
        self._settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def _data_errors(
        self, workflow_id: str, *, data: RecordInvoiceInput | None = None, invoice_id: int | None = None
    ) -> AsyncIterator[None]:
        try:
            yield
        except DBAPIError as err:
            if not permanent_database_error(err):
                raise
            reason = f"{type(err.orig).__name__}: {str(err.orig).splitlines()[0]}"
            activity.logger.error("permanent database error in %s, not retried: %s", workflow_id, reason)
            await self._record_failure(workflow_id, reason, data=data, invoice_id=invoice_id)
            raise ApplicationError(reason, type="DataError", non_retryable=True) from None

    async def _record_failure(
        self, workflow_id: str, reason: str, *, data: RecordInvoiceInput | None, invoice_id: int | None
    ) -> None:
        """The client's timeline says why, in a transaction of its own (the failed one rolled back)."""
        try:
            async with self._db.session() as session:
                client_id: int | None = None
                if invoice_id is not None:
                    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
                    client_id = invoice.client_id if invoice else None
                elif data is not None:
                    booking = data.booking
                    client_id = await clients_repo.upsert_client(
                        session,
                        client=booking.client,
                        source=booking.client_owner,
                        actor=booking.requester,
                        workspace_id=booking.workspace_id,
                    )
                if client_id is None:
                    return
                await timeline_repo.add_event(
                    session,
                    client_id=client_id,
                    invoice_id=invoice_id,
                    kind="invoice.failed",
                    message=f"Stopped: the database refused the data ({reason})"[:2000],
                    data={"workflow_id": workflow_id, "reason": reason[:500]},
                    key=f"{workflow_id}:failed:{activity.info().activity_type}",
                )
        except Exception:  # the failure itself is already logged and raised; the timeline is best effort
            activity.logger.exception("could not record the failure of %s on the timeline", workflow_id)

    @activity.defn
    async def record_invoice(self, data: RecordInvoiceInput) -> IssuedInvoice:
        async with self._data_errors(data.workflow_id, data=data), self._db.session() as session:
            invoice = await invoicing.issue_invoice(
                session,
                booking=data.booking,
                workflow_id=data.workflow_id,
                profile=await business_profile_in(session, self._settings),
            )
        assert invoice.id is not None
        return IssuedInvoice(
            invoice_id=invoice.id,
            number=invoice.number,
            client_id=invoice.client_id,
            currency=invoice.currency,
            total_minor=invoice.total_minor,
            amount_paid_minor=invoice.amount_paid_minor,
            status=InvoiceStatus(invoice.status),
            issued_at=invoice.issued_at,
            due_date=invoice.due_date,
            due_at=invoice.due_at,
            timezone=invoice.timezone,
            public_token=invoice.public_token,
        )

    @activity.defn
    async def record_payment(self, data: RecordPaymentInput) -> PaymentOutcome:
        try:
            async with self._data_errors(data.workflow_id, invoice_id=data.invoice_id), self._db.session() as session:
                return await invoicing.record_payment(
                    session, invoice_id=data.invoice_id, payment=data.payment, note=data.note
                )
        except invoicing.InvoiceNotFound as err:
            raise ApplicationError(str(err), type="InvoiceNotFound", non_retryable=True) from err

    @activity.defn
    async def read_settlement(self, data: SettlementInput) -> PaymentOutcome:
        """The invoice's amounts and status as committed outside the run (a `payment_recorded` signal, a
        reminder skipped as settled): read only, so nothing is written twice."""
        try:
            async with self._db.session() as session:
                return await invoicing.settlement(session, invoice_id=data.invoice_id)
        except invoicing.InvoiceNotFound as err:
            raise ApplicationError(str(err), type="InvoiceNotFound", non_retryable=True) from err

    @activity.defn
    async def apply_transition(self, change: InvoiceTransition) -> TransitionResult:
        try:
            async with (
                self._data_errors(change.workflow_id, invoice_id=change.invoice_id),
                self._db.session() as session,
            ):
                status = await invoicing.apply_transition(session, change=change)
                credit_note = None
                if change.kind == "void":  # voiding an issued invoice issues its cancellation credit note
                    credit_note = await credit_notes.cancel_invoice(
                        session, invoice_id=change.invoice_id, change=change
                    )
                return TransitionResult(
                    status=status,
                    credit_note_id=credit_note.id if credit_note else None,
                    credited_minor=credit_note.total_minor if credit_note else 0,
                )
        except invoicing.InvoiceNotFound as err:
            raise ApplicationError(str(err), type="InvoiceNotFound", non_retryable=True) from err
