"""Helpers shared by the workflow, integration and replay tests: start runs, wait on the status query, read
back every row an invoice run wrote."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services.invoice_runs import start_invoice
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.payments import Payment
from models.timeline import TimelineEvent
from models.workflow_io import BookingIn, InvoiceState, PaymentReceived, ReminderPolicy, ReminderStep
from tests.factories import make_booking
from workflows.invoice import InvoiceWorkflow
from workflows.search_attributes import INVOICE_STATUS

# make_booking's lines: 2 x 150.00 + 20 % tax, plus 25.00 travel.
BOOKING_TOTAL = 38_500
DAY = timedelta(days=1)


def days_policy(*days: int) -> ReminderPolicy:
    """Exact offsets in whole days from the due instant (no local hour), e.g. -3, 0, 3, 7."""
    return ReminderPolicy(
        send_hour=None,
        steps=[ReminderStep(offset=timedelta(days=d), template="reminder" if d <= 0 else "overdue") for d in days],
    )


def booking(*reminder_days: int, terms_days: int = 14, **overrides: object) -> BookingIn:
    """A booking due `terms_days` after issue with exact-offset reminders; issued_at left to the workflow."""
    policy = days_policy(*(reminder_days or (-3, 0, 3, 7)))
    values: dict[str, object] = {"reminder_policy": policy, "payment_terms": timedelta(days=terms_days)}
    return make_booking(**(values | overrides))


def payment(
    amount_minor: int = BOOKING_TOTAL, *, reference: str | None = None, currency: str = "GBP"
) -> PaymentReceived:
    return PaymentReceived(
        provider="local",
        provider_reference=reference or f"pay-{uuid.uuid4().hex[:12]}",
        amount_minor=amount_minor,
        currency=currency,
        received_at=datetime.now(UTC),
    )


async def start(client: Client, data: BookingIn, task_queue: str) -> WorkflowHandle:
    return await start_invoice(client, data, task_queue=task_queue)


async def until(
    handle: WorkflowHandle, predicate: Callable[[InvoiceState], bool], *, timeout: float = 15.0
) -> InvoiceState:
    """Poll the status query (real time, no skipping) until `predicate` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    state: InvoiceState | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            state = await handle.query(InvoiceWorkflow.status, rpc_timeout=timedelta(seconds=2))
        except RPCError:  # a query racing a continue-as-new can go unanswered: ask again
            continue
        if state is not None and predicate(state):
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not reached within {timeout}s; last state: {state!r}")


async def issued(handle: WorkflowHandle) -> InvoiceState:
    """The state once the invoice is recorded and its issue email sent."""
    return await until(handle, lambda s: s.issued_email_sent)


@dataclass
class Rows:
    invoice: Invoice
    payments: list[Payment]
    emails: list[EmailMessage]
    events: list[TimelineEvent]

    @property
    def email_kinds(self) -> list[tuple[str, int | None]]:
        """(kind, reminder step) in the order they were claimed."""
        return [(m.kind, m.reminder_step) for m in sorted(self.emails, key=lambda m: m.id or 0)]

    @property
    def event_kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def count_events(self, kind: str) -> int:
        return self.event_kinds.count(kind)


async def rows(db: Database, workflow_id: str) -> Rows:
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, workflow_id=workflow_id)
        assert invoice is not None, f"no invoice row for {workflow_id}"
        assert invoice.id is not None
        return Rows(
            invoice=invoice,
            payments=list(await payments_repo.list_payments(session, invoice_id=invoice.id)),
            emails=list(await messages_repo.list_messages(session, invoice_id=invoice.id, limit=1000)),
            events=list(await timeline_repo.list_events(session, invoice_id=invoice.id, limit=1000)),
        )


async def skip_to(env: WorkflowEnvironment, at: datetime) -> None:
    """Advance the time-skipping server's clock to `at` (no-op if it is already later)."""
    delta = at - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def search_status(handle: WorkflowHandle) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(INVOICE_STATUS)


async def until_rows(
    db: Database, workflow_id: str, predicate: Callable[[Rows], bool], *, timeout: float = 15.0
) -> Rows:
    """Poll the database (not the workflow) until `predicate` holds: safe while runs continue as new."""
    deadline = asyncio.get_running_loop().time() + timeout
    found: Rows | None = None
    while asyncio.get_running_loop().time() < deadline:
        found = await rows(db, workflow_id)
        if predicate(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"rows not reached within {timeout}s; events: {found and found.event_kinds}")
