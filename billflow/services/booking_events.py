"""Booking events from integrations: stored once per (integration, event id), then acted on.

booking.confirmed upserts the client and starts the invoice workflow; booking.cancelled voids the unpaid
invoice (a paid one is flagged on the timeline for a refund decision); booking.rescheduled only notes the new
time. Cancel and reschedule keep the event row locked while they are handled, so concurrent deliveries of one id
wait and then get the first delivery's answer. booking.confirmed claims the row, starts the workflow outside
any transaction, then records the answer; concurrent deliveries may both start (the start is idempotent by
workflow id) and the first answer recorded is the one every other replays. If handling fails, nothing stays
stored and a retry handles it again (every step is idempotent: workflow ids and timeline keys come from the
booking and the event).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import booking_events as events_repo
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from billflow.runs import subscriptions as subscription_runs
from billflow.services import clients as clients_service
from billflow.services import staff_actions
from billflow.services import subscriptions as subscriptions_service
from billflow.services import workspaces as workspaces_service
from billflow.services.issued_watch import issued_watch
from models.booking_events import (
    BookingCancelledEvent,
    BookingConfirmedEvent,
    BookingEvent,
    BookingEventIn,
    BookingRescheduledEvent,
    EventAccepted,
    EventOutcome,
    SubscriptionCreatedEvent,
)
from models.client_sources import integration_source
from models.columns import DEFAULT_WORKSPACE_ID
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.subscription_io import SUBSCRIPTION_ID_MAX
from models.workflow_io import BookingIn, VoidInvoice

# How long an answer waits for the new workflow to issue its invoice number (else `invoice_number: null`).
NUMBER_WAIT = timedelta(seconds=5)


class EventIdReused(Exception):
    """The event id was already used for a different event body."""


class NotInThisWorkspace(Exception):
    """The event needs something its integration's workspace does not have yet."""


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
    number_wait: timedelta = NUMBER_WAIT,
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

    def claim(session: AsyncSession) -> Awaitable[BookingEvent]:
        return events_repo.claim_event(
            session,
            integration=integration,
            event_id=event.id,
            type=event.type,
            version=event.version,
            booking_id=event.data.booking_id,
            payload=payload,
            payload_sha256=digest,
            sent_by=sender.actor,
        )

    prepared: clients_service.PreparedInvoice | None = None
    async with db.session() as session:
        row = await claim(session)
        if row.payload_sha256 != digest:
            raise EventIdReused(f"event id {event.id!r} was already used for a different event")
        replayed = bool(row.result)
        if replayed:
            answer = EventAccepted.model_validate(row.result)
        elif isinstance(event, BookingConfirmedEvent):
            # The workflow start happens after this commit, holding no pooled connection: under load a Temporal
            # round trip inside the transaction made the pool the API's ceiling. A delivery that dies before
            # recording its result leaves the row without one, so the provider's retry does the work again.
            terms, currency = event.data.payment_terms_days, event.data.currency
            if terms is None or currency is None:  # the booking gives none: its workspace's defaults
                defaults = await workspaces_service.invoice_defaults(session, workspace_id=sender.workspace_id)
                terms = defaults.payment_terms_days if terms is None else terms
                currency = currency or defaults.currency
            booking = booking_from_event(sender, event, payment_terms_days=terms, currency=currency)
            prepared = await clients_service.prepare_client_invoice(session, booking)
        else:
            # No number wait inside this transaction: it holds a pooled connection and the row lock, and under
            # load (50 events/s) waiting here exhausted the API's pool (requests failed after the pool timeout).
            answer = await _act(db, session, client, settings, sender=sender, event=event)
            await events_repo.record_result(session, event=row, result=answer.model_dump(mode="json"))
    if prepared is not None:
        assert isinstance(event, BookingConfirmedEvent)
        answer, replayed = await _start_confirmed(db, client, settings, integration, event, prepared, claim)
    if answer.outcome is EventOutcome.invoice_started and answer.invoice_number is None and number_wait:
        # First delivery and concurrent replays alike wait for the number, so they all answer the same.
        issued = await _issued(db, answer.workflow_id or "", number_wait)
        if issued is not None:
            answer = answer.model_copy(update={"invoice_number": issued.number, "invoice_status": issued.status})
            async with db.session() as session:  # later replays of this id answer with the number at once
                row = await claim(session)
                await events_repo.record_result(session, event=row, result=answer.model_dump(mode="json"))
    return answer, replayed


async def _start_confirmed(
    db: Database,
    client: Client,
    settings: Settings,
    integration: str,
    event: BookingConfirmedEvent,
    prepared: clients_service.PreparedInvoice,
    claim: Callable[[AsyncSession], Awaitable[BookingEvent]],
) -> tuple[EventAccepted, bool]:
    """Start the invoice workflow outside any transaction, then record the answer. Concurrent deliveries of one
    id may all get here: the start is idempotent by workflow id, and the first to record its result is the
    answer every other one replays. A failure forgets the claimed event, so nothing half-done is stored."""
    try:
        await clients_service.launch_client_invoice(client, prepared, task_queue=settings.task_queue)
        async with db.session() as session:
            row = await claim(session)
            if row.result:
                return EventAccepted.model_validate(row.result), True
            answer = await _confirmed(session, integration, event, prepared.booking)
            await events_repo.record_result(session, event=row, result=answer.model_dump(mode="json"))
            return answer, False
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: a row left behind is redone by the retry anyway
            async with db.session() as session:
                await events_repo.forget_unfinished(session, integration=integration, event_id=event.id)
        raise


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
            return await _cancelled(db, session, client, integration, event)
        case BookingRescheduledEvent():
            return await _rescheduled(db, session, client, integration, event)
        case SubscriptionCreatedEvent():
            return await _subscription_created(db, client, settings, sender, event)
        case BookingConfirmedEvent():
            raise AssertionError("booking.confirmed is handled by handle_event in two transactions")


async def _subscription_created(
    db: Database, client: Client, settings: Settings, sender: Sender, event: SubscriptionCreatedEvent
) -> EventAccepted:
    if sender.workspace_id != DEFAULT_WORKSPACE_ID:  # subscriptions are not split by workspace yet
        raise NotInThisWorkspace("subscription.created: subscriptions serve the first workspace only (issue 13)")
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
    )
    return EventAccepted(
        event_id=event.id,
        type=event.type,
        booking_id=view.subscription_id,
        outcome=EventOutcome.subscription_started,
        workflow_id=subscriptions_service.workflow_id_for(view.subscription_id),
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
    session: AsyncSession, integration: str, event: BookingConfirmedEvent, booking: BookingIn
) -> EventAccepted:
    """After the start: the client row (upserted last, so its lock lasts milliseconds) and the timeline note."""
    client_id = await clients_repo.upsert_client(
        session,
        client=booking.client,
        source=booking.client_owner,
        actor=booking.requester,
        workspace_id=booking.workspace_id,
    )
    await timeline_repo.add_event(
        session,
        client_id=client_id,
        kind="booking.confirmed",
        message=f"Booking {booking.booking_id} confirmed via {integration}",
        data={"event_id": event.id, "booking_id": booking.booking_id, "integration": integration},
        key=_event_key(integration, event),
    )
    return EventAccepted(
        event_id=event.id,
        type=event.type,
        booking_id=booking.booking_id,
        outcome=EventOutcome.invoice_started,
        workflow_id=booking.workflow_id,
    )


async def _cancelled(
    db: Database, session: AsyncSession, client: Client, integration: str, event: BookingCancelledEvent
) -> EventAccepted:
    invoice = await _issued_invoice_of(db, client, integration, event.data.booking_id)
    if invoice is None:
        return _answer(event, None, EventOutcome.no_invoice)
    outcome = EventOutcome.void_requested
    status = InvoiceStatus(invoice.status)
    if invoice.amount_paid_minor == 0 and not status.is_final:
        action = VoidInvoice(
            action_id=_action_id(integration, event), actor=f"integration:{integration}", reason=event.data.reason
        )
        try:
            status = (await staff_actions.perform_action(db, client, number=invoice.number, action=action)).status
        except staff_actions.ActionRejected:
            invoice = await _invoice_of(db, integration, event.data.booking_id) or invoice  # a payment raced in
            status = InvoiceStatus(invoice.status)
    if status is not InvoiceStatus.void:
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


async def _rescheduled(
    db: Database, session: AsyncSession, client: Client, integration: str, event: BookingRescheduledEvent
) -> EventAccepted:
    invoice = await _issued_invoice_of(db, client, integration, event.data.booking_id)
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


async def _issued(db: Database, workflow_id: str, wait: timedelta) -> Invoice | None:
    """Wait until the (started) workflow has recorded its invoice; None if not within `wait`.

    Watches PostgreSQL (one shared poll, billflow.services.issued_watch), not the workflow's status query: a
    query is a task for the busy worker, and at 50 events/s hundreds of waiting answers querying starved the
    invoices they waited for."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, workflow_id=workflow_id)
    if invoice is not None or not await issued_watch(db).wait(workflow_id, wait.total_seconds()):
        return invoice
    async with db.session() as session:
        return await invoices_repo.get_invoice(session, workflow_id=workflow_id)


async def _invoice_of(db: Database, integration: str, booking_id: str) -> Invoice | None:
    """The booking's invoice; for a booking with a deposit, its final invoice or else its deposit invoice."""
    async with db.session() as session:
        for key in (f"booking:{integration}:{booking_id}", f"booking:{integration}:{booking_id}:deposit"):
            invoice = await invoices_repo.get_invoice(session, source_key=key)
            if invoice is not None:
                return invoice
    return None


async def _issued_invoice_of(db: Database, client: Client, integration: str, booking_id: str) -> Invoice | None:
    """The booking's invoice; if its workflow is still issuing it (a cancel right after the confirm), wait
    briefly for it rather than answering that there is none."""
    invoice = await _invoice_of(db, integration, booking_id)
    # BookingIn.workflow_id of this booking, or of its deposit invoice when it asked for one.
    for workflow_id in (f"invoice-{integration}-{booking_id}", f"invoice-{integration}-{booking_id}-deposit"):
        if invoice is not None:
            break
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                continue  # never started: nothing will be issued, no need to wait
        invoice = await _issued(db, workflow_id, NUMBER_WAIT)
    return invoice


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
