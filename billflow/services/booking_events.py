"""Booking events from integrations: stored once per (integration, event id) in the inbox, then acted on, facts
first.

booking.confirmed is an issued invoice in the event's own transaction (billflow/services/intake.py): the client
upserted, the invoice with its number recorded, the run's start owed to the outbox, the answer recorded; so the
answer carries the number and never waits on the worker or on Temporal. booking.cancelled voids the unpaid
invoice through the outbox (a paid one is flagged on the timeline for a refund decision); booking.rescheduled
only notes the new time. The event row stays locked while it is handled, so concurrent deliveries of one id
wait and then get the first delivery's answer; if handling fails nothing stays stored and a retry handles it
again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.repositories import timeline as timeline_repo
from billflow.runs import subscriptions as subscription_runs
from billflow.services import intake
from billflow.services import workspaces as workspaces_service
from billflow.services.business_profile import BusinessProfile, business_profile_in, refusal_for
from models.booking_events import (
    BookingCancelledEvent,
    BookingConfirmedEvent,
    BookingEventIn,
    BookingRescheduledEvent,
    EventAccepted,
    EventOutcome,
    SubscriptionCreatedEvent,
)
from models.client_sources import integration_source
from models.columns import DEFAULT_WORKSPACE_ID
from models.enums import InvoiceStatus
from models.inbox import InboxEvent, InboxSource
from models.invoices import Invoice
from models.subscription_io import SUBSCRIPTION_ID_MAX
from models.workflow_io import BookingIn, VoidInvoice


class EventIdReused(Exception):
    """The event id was already used for a different event body."""


class SellerCannotIssue(Exception):
    """The workspace's business profile lacks what the booking's lines need (e.g. a VAT id for reverse charge):
    nothing is stored."""


@dataclass(frozen=True)
class Sender:
    """Who posted an event: the integration its bookings are keyed by, whose clients they are, and who it was
    (an integration's signature: the integration's own clients; a staff key: staff's clients, even when it
    names an integration, so a key cannot redirect an integration's client)."""

    integration: str
    client_source: str
    actor: str
    workspace_id: int = DEFAULT_WORKSPACE_ID  # the integration's: its bookings' clients and invoices are there


async def handle_event(
    db: Database,
    client: Client,
    settings: Settings,
    *,
    integration: str,
    event: BookingEventIn,
    client_source: str | None = None,
    actor: str | None = None,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> tuple[EventAccepted, bool]:
    """Handle the event once; returns its answer and whether this delivery was a replay.

    The event's clients belong to `client_source` (default: the integration's own); `actor` is who sent it.
    """
    sender = Sender(
        integration=integration,
        client_source=client_source or integration_source(integration),
        actor=actor or integration_source(integration),
        workspace_id=workspace_id,
    )
    payload = event.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def claim(session: AsyncSession) -> Awaitable[InboxEvent]:
        return inbox_repo.claim(
            session,
            source=InboxSource.booking,
            channel=integration,
            event_key=event.id,
            type=event.type,
            payload=payload,  # its version and booking id with it
            payload_sha256=digest,
            sent_by=sender.actor,
            workspace_id=sender.workspace_id,
        )

    issued: Invoice | None = None
    async with db.session() as session:
        row = await claim(session)
        if row.payload_sha256 != digest:
            raise EventIdReused(f"event id {event.id!r} was already used for a different event")
        replayed = bool(row.result)
        if replayed:
            return await _numbered(db, EventAccepted.model_validate(row.result)), True
        if isinstance(event, BookingConfirmedEvent):
            terms, currency = event.data.payment_terms_days, event.data.currency
            if terms is None or currency is None:  # the booking gives none: its workspace's defaults
                defaults = await workspaces_service.invoice_defaults(session, workspace_id=sender.workspace_id)
                terms = defaults.payment_terms_days if terms is None else terms
                currency = currency or defaults.currency
            booking = booking_from_event(sender, event, payment_terms_days=terms, currency=currency)
            seller = await business_profile_in(session, settings, workspace_id=sender.workspace_id)
            refused = refusal_for(booking.lines, seller)
            if refused:  # raised inside the transaction: the claimed event rolls back with it
                raise SellerCannotIssue(refused)
            answer, issued = await _confirmed(session, settings, sender.integration, event, booking, seller)
        else:
            answer = await _act(db, session, client, settings, sender=sender, event=event)
        await inbox_repo.record(session, event=row, outcome=answer.outcome, result=answer.model_dump(mode="json"))
    if issued is not None and answer.invoice_number is None:  # committed with a placeholder: numbered now
        return answer.model_copy(update={"invoice_number": await intake.number_now(db, issued)}), False
    return answer, False


async def _numbered(db: Database, answer: EventAccepted) -> EventAccepted:
    """A confirmed booking's answer with its invoice number: its invoice was committed with a placeholder and
    is numbered now, by one autocommit statement (services/intake.number_now: the gap-free counter's row is
    locked only while it runs). Replays of the event read the number the same way."""
    if answer.outcome is not EventOutcome.invoice_started or answer.invoice_number or not answer.workflow_id:
        return answer
    invoice = await intake.number_of_run(db, answer.workflow_id)
    if invoice is None:
        return answer
    return answer.model_copy(update={"invoice_number": invoice.number})


async def _act(
    db: Database,
    session: AsyncSession,
    client: Client,
    settings: Settings,
    *,
    sender: Sender,
    event: BookingEventIn,
) -> EventAccepted:
    """Act on an event other than booking.confirmed; its timeline note goes into `session` (the event row's
    transaction), so a failure leaves no note of an event that was not accepted."""
    integration = sender.integration
    match event:
        case BookingCancelledEvent():
            return await _cancelled(session, integration, event)
        case BookingRescheduledEvent():
            return await _rescheduled(session, integration, event)
        case SubscriptionCreatedEvent():
            return await _subscription_created(db, client, settings, sender, event)
        case BookingConfirmedEvent():
            raise AssertionError("booking.confirmed is handled by _confirmed")


async def _subscription_created(
    db: Database, client: Client, settings: Settings, sender: Sender, event: SubscriptionCreatedEvent
) -> EventAccepted:
    data = event.data
    if not data.subscription_id:
        data = data.model_copy(update={"subscription_id": f"{sender.integration}-{event.id}"[:SUBSCRIPTION_ID_MAX]})
    view = await subscription_runs.create_and_start(
        db,
        client,
        data,
        task_queue=settings.task_queue,
        max_backfill_periods=settings.subscription_max_backfill_periods,
        client_source=sender.client_source,
        actor=sender.actor,
        workspace_id=sender.workspace_id,  # the integration's (or the key's): its client and invoices are there
    )
    return EventAccepted(
        event_id=event.id,
        type=event.type,
        booking_id=view.subscription_id,
        outcome=EventOutcome.subscription_started,
        workflow_id=view.workflow_id,
    )


def booking_from_event(
    sender: Sender, event: BookingConfirmedEvent, *, payment_terms_days: int, currency: str
) -> BookingIn:
    data = event.data
    return BookingIn(
        source=sender.integration,
        client_source=sender.client_source,
        requested_by=sender.actor,
        workspace_id=sender.workspace_id,
        booking_id=data.booking_id,
        client=data.client,
        lines=data.lines(),
        currency=currency,
        payment_terms=timedelta(days=payment_terms_days),
        service_date=data.starts_at.date() if data.starts_at else None,
        memo=data.memo,
        deposit=data.deposit,
    )


async def _confirmed(
    session: AsyncSession,
    settings: Settings,
    integration: str,
    event: BookingConfirmedEvent,
    booking: BookingIn,
    seller: BusinessProfile,
) -> tuple[EventAccepted, Invoice | None]:
    """The invoice issued and its run owed to the outbox (intake), with the booking's note on the timeline."""
    issued = await intake.issue_booking(session, settings, booking, defer_number=True, profile=seller)
    invoice = issued.invoice
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="booking.confirmed",
        message=f"Booking {booking.booking_id} confirmed via {integration}",
        data={"event_id": event.id, "booking_id": booking.booking_id, "integration": integration},
        key=_event_key(integration, event),
    )
    answer = EventAccepted(  # a new invoice's number is taken right after the commit (handle_event)
        event_id=event.id,
        type=event.type,
        booking_id=booking.booking_id,
        outcome=EventOutcome.invoice_started,
        workflow_id=invoice.workflow_id,
        invoice_number=None if issued.new else invoice.number,
        invoice_status=invoice.status,
    )
    return answer, invoice if issued.new else None


async def _cancelled(session: AsyncSession, integration: str, event: BookingCancelledEvent) -> EventAccepted:
    """The unpaid invoice's void is owed to its run through the outbox, in this transaction: the answer waits on
    nothing, and a Temporal outage delays the void without refusing the event. The run applies it once (its
    action id comes from the event); a payment that reaches the run first makes it refuse the void."""
    invoice = await _invoice_of(session, integration, event.data.booking_id)
    if invoice is None:
        return _answer(event, None, EventOutcome.no_invoice)
    outcome = EventOutcome.void_requested
    status = InvoiceStatus(invoice.status)
    if invoice.amount_paid_minor == 0 and not status.is_final:
        action = VoidInvoice(
            action_id=_action_id(integration, event), actor=f"integration:{integration}", reason=event.data.reason
        )
        await outbox_repo.enqueue_signal(
            session,
            workflow_id=invoice.workflow_id,
            name=outbox_repo.VOID,
            payload=action,
            key=f"void:{action.action_id}",
            workspace_id=invoice.workspace_id,
        )
    else:
        paid = invoice.amount_paid_minor > 0
        outcome = EventOutcome.refund_decision_flagged if paid else EventOutcome.already_closed
    message = f"Booking {event.data.booking_id} cancelled via {integration}: {event.data.reason}"
    if outcome is EventOutcome.refund_decision_flagged:
        message += f" - {invoice.amount_paid_minor} {invoice.currency} already paid: refund decision needed"
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="booking.cancelled",
        message=message,
        data={
            "event_id": event.id,
            "flag": "refund_decision" if outcome is EventOutcome.refund_decision_flagged else "",
            "amount_paid_minor": invoice.amount_paid_minor,
        },
        key=_event_key(integration, event),
    )
    return _answer(event, invoice, outcome, status=status)


async def _rescheduled(session: AsyncSession, integration: str, event: BookingRescheduledEvent) -> EventAccepted:
    invoice = await _invoice_of(session, integration, event.data.booking_id)
    if invoice is None:
        return _answer(event, None, EventOutcome.no_invoice)
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="booking.rescheduled",
        message=f"Booking {event.data.booking_id} moved to {event.data.starts_at.isoformat()}; invoice unchanged",
        data={"event_id": event.id, "starts_at": event.data.starts_at.isoformat()},
        key=_event_key(integration, event),
    )
    return _answer(event, invoice, EventOutcome.rescheduled_noted)


async def _invoice_of(session: AsyncSession, integration: str, booking_id: str) -> Invoice | None:
    """The booking's invoice (recorded when its confirmation was accepted); for a booking with a deposit, its
    final invoice or else its deposit invoice."""
    for key in (f"booking:{integration}:{booking_id}", f"booking:{integration}:{booking_id}:deposit"):
        invoice = await invoices_repo.get_invoice(session, source_key=key)
        if invoice is not None:
            return invoice
    return None


def _answer(
    event: BookingEventIn, invoice: Invoice | None, outcome: EventOutcome, *, status: InvoiceStatus | None = None
) -> EventAccepted:
    return EventAccepted(
        event_id=event.id,
        type=event.type,
        booking_id=event.data.booking_id,
        outcome=outcome,
        workflow_id=invoice.workflow_id if invoice else None,
        invoice_number=invoice.number if invoice else None,
        invoice_status=(status or InvoiceStatus(invoice.status)).value if invoice else None,
    )


def _event_key(integration: str, event: BookingEventIn) -> str:
    return f"event:{integration}:{event.id}"


def _action_id(integration: str, event: BookingEventIn) -> str:
    """A staff-action id (<= 64 chars) fixed by the event, so a redelivery signals the same action."""
    return "evt-" + hashlib.sha256(_event_key(integration, event).encode()).hexdigest()[:40]
