"""What staff see of invoices: filtered pages and the full detail (lines, payments, messages, timeline and the
workflow's live state). Shared by the API and the CLI."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from billflow.db import Database
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import invoice_runs
from billflow.services.credit_notes import CreditNoteSummary
from models.clients import Client as ClientRow
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import InvoiceState


class _Unanswered:
    """When queries went unanswered (no worker polls), later pages wait UNANSWERED_TIMEOUT instead of the full
    timeout for QUIET_FOR: a stopped worker costs the first page 2 s, not every page. An answer ends it."""

    until = 0.0


UNANSWERED_TIMEOUT = timedelta(milliseconds=250)
QUIET_FOR = timedelta(seconds=30)


async def _live_state(temporal: Client, workflow_id: str, timeout: timedelta) -> InvoiceState | None:
    """The run's state, or None when it does not answer within `timeout` (the page still answers without it)."""
    loop = asyncio.get_running_loop()
    if loop.time() < _Unanswered.until:
        timeout = min(timeout, UNANSWERED_TIMEOUT)
    try:
        state = await asyncio.wait_for(
            invoice_runs.query_state(temporal, workflow_id, rpc_timeout=timeout), timeout.total_seconds()
        )
    except TimeoutError:
        # Only a full wait that expired means no worker polls; a page's short wait expiring says nothing.
        if timeout > PAGE_LIVE_WAIT:
            _Unanswered.until = loop.time() + QUIET_FOR.total_seconds()
        return None
    except (RPCError, WorkflowQueryFailedError):
        return None
    _Unanswered.until = 0.0
    return state


class InvoiceNotFound(LookupError):
    pass


class InvoiceSummary(BaseModel):
    number: str
    status: InvoiceStatus
    client_id: int
    client_name: str
    currency: str
    total_minor: int
    amount_paid_minor: int
    balance_minor: int
    issue_date: date
    due_date: date
    workflow_id: str
    reminders_paused: bool

    @classmethod
    def of(cls, invoice: Invoice, client: ClientRow) -> InvoiceSummary:
        assert client.id is not None
        return cls(
            number=invoice.number,
            status=InvoiceStatus(invoice.status),
            client_id=client.id,
            client_name=client.name,
            currency=invoice.currency,
            total_minor=invoice.total_minor,
            amount_paid_minor=invoice.amount_paid_minor,
            balance_minor=invoice.balance_minor,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            workflow_id=invoice.workflow_id,
            reminders_paused=invoice.reminders_paused,
        )


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    total: int
    limit: int
    offset: int


class LineOut(BaseModel):
    position: int
    description: str
    quantity: Decimal
    unit_price_minor: int
    tax_rate_bp: int
    subtotal_minor: int
    tax_minor: int
    total_minor: int


class PaymentOut(BaseModel):
    id: int
    kind: str
    provider: str
    provider_reference: str
    amount_minor: int
    currency: str
    method: str
    note: str | None
    received_at: datetime


class MessageOut(BaseModel):
    id: int
    kind: str
    reminder_step: int | None
    to_email: str
    subject: str
    status: str  # delivery state: claimed, sent, delivered, opened, bounced, ...
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime


class TimelineOut(BaseModel):
    kind: str
    message: str
    data: dict[str, Any]
    occurred_at: datetime


class InvoiceDetail(InvoiceSummary):
    client_email: str
    subtotal_minor: int
    tax_minor: int
    issued_at: datetime
    due_at: datetime
    timezone: str
    payment_url: str | None
    paused_until: datetime | None
    memo: str | None
    lines: list[LineOut]
    payments: list[PaymentOut]
    messages: list[MessageOut]
    timeline: list[TimelineOut]
    live: InvoiceState | None  # the workflow's `status` query while it runs; null once final
    # Documents (issue 14): the invoice's kind and the credit notes issued against it.
    kind: str = "invoice"
    credited_minor: int = 0
    credit_notes: list[CreditNoteSummary] = Field(default_factory=list)


async def list_page(
    db: Database, *, where: invoices_repo.InvoiceFilter, limit: int = 50, offset: int = 0
) -> InvoicePage:
    async with db.session() as session:
        rows, total = await invoices_repo.search_invoices(session, where=where, limit=limit, offset=offset)
        items = [InvoiceSummary.of(invoice, client) for invoice, client in rows]
    return InvoicePage(items=items, total=total, limit=limit, offset=offset)


# How long the detail waits for the run's `status` query. Everything else comes from PostgreSQL; the query adds
# what only the run knows (the reminder schedule, the next reminder). A worker answers in milliseconds; with none
# polling, the server would hold the query for its own deadline (about 10 s), so the page answers without it.
LIVE_QUERY_TIMEOUT = timedelta(seconds=2)


# The staff page waits this long, then lets the browser fetch the live section (`live_state`): a stopped or busy
# worker never holds the page above its 300 ms budget.
PAGE_LIVE_WAIT = timedelta(milliseconds=150)


async def live_state(db: Database, temporal: Client, *, number: str) -> tuple[InvoiceStatus, InvoiceState | None]:
    """The invoice's recorded status and its run's live state (None when final or unanswered)."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
    if invoice is None:
        raise InvoiceNotFound(f"no invoice numbered {number}")
    status = InvoiceStatus(invoice.status)
    if status.is_final:
        return status, None
    return status, await _live_state(temporal, invoice.workflow_id, LIVE_QUERY_TIMEOUT)


async def detail(
    db: Database, temporal: Client, *, number: str, live_timeout: timedelta = LIVE_QUERY_TIMEOUT
) -> InvoiceDetail:
    async with db.session() as session:
        found = await invoices_repo.get_invoice_with_client(session, number=number)
        if found is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        invoice, client = found
        assert invoice.id is not None
        # The query runs while the rows below are read: the page waits for the slower of the two, not the sum.
        asked = None
        if not InvoiceStatus(invoice.status).is_final:
            asked = asyncio.create_task(_live_state(temporal, invoice.workflow_id, live_timeout))
        try:
            lines = await invoices_repo.get_lines(session, invoice_id=invoice.id)
            payments = await payments_repo.list_payments(session, invoice_id=invoice.id)
            messages = await messages_repo.list_messages(session, invoice_id=invoice.id, limit=500)
            events = await timeline_repo.list_events(session, invoice_id=invoice.id, limit=1000)
            notes = await credit_notes_repo.list_credit_notes(session, invoice_id=invoice.id, limit=200)
        except BaseException:
            if asked is not None:
                asked.cancel()
            raise
    live = await asked if asked is not None else None
    summary = InvoiceSummary.of(invoice, client)
    return InvoiceDetail(
        **summary.model_dump(),
        client_email=client.email,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        issued_at=invoice.issued_at,
        due_at=invoice.due_at,
        timezone=invoice.timezone,
        payment_url=invoice.payment_url,
        paused_until=invoice.paused_until,
        memo=invoice.memo,
        lines=[LineOut.model_validate(line, from_attributes=True) for line in lines],
        payments=[PaymentOut.model_validate(p, from_attributes=True) for p in payments],
        messages=[
            MessageOut.model_validate(m, from_attributes=True) for m in sorted(messages, key=lambda m: m.id or 0)
        ],
        timeline=[TimelineOut.model_validate(e, from_attributes=True) for e in events],
        live=live,
        kind=invoice.kind,
        credited_minor=invoice.credited_minor,
        credit_notes=[CreditNoteSummary.of(note, invoice) for note, _ in notes],
    )
