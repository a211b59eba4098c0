"""Cal.com webhooks: a booking becomes an invoice, a payment settles it, a reschedule moves it, a cancellation
voids it.

Each delivery is verified (X-Cal-Signature-256: hex HMAC-SHA256 of the raw body with the integration's secret),
then handled once per (booking uid, trigger): the delivery row stays locked while it is handled, so a concurrent
copy waits and gets the first answer; if handling fails the row rolls back and Cal.com's retry handles it again
(every step is idempotent: workflow ids, payment references and timeline keys come from the booking).

Every uid of a rescheduled chain maps to the chain's first booking, whose uid is the invoice's booking id, so a
chain has one invoice: `invoice-w{workspace}-{integration}-{root uid}` (models/workflow_ids.py).

A delivery is taken into its integration's workspace (the one whose secret verified it, issue 13): its client,
its price from that workspace's catalog, its invoice numbered by that workspace's series with its business as
the seller, and the run's id and WorkspaceId.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import calcom as calcom_repo
from billflow.repositories import catalog as catalog_repo
from billflow.repositories import clients as clients_repo
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import intake, invoicing
from billflow.services import payments as payments_service
from models import workflow_ids
from models.booking_events import reject_nul
from models.calcom import CalBooking, CalDeliveryResult, CalOutcome, CalTrigger, CalWebhook
from models.client_sources import integration_source
from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.enums import InvoiceStatus
from models.inbox import InboxSource
from models.invoices import Invoice
from models.money import CurrencyCode
from models.time_zones import is_iana_zone
from models.workflow_io import (
    BookingIn,
    ClientIn,
    InvoiceState,
    LineIn,
    PaymentReceived,
    VoidInvoice,
)

SIGNATURE_HEADER = "X-Cal-Signature-256"
PROVIDER = "calcom"  # the payment source of bookings paid inside Cal.com
PAYMENT_TERMS = timedelta(days=14)
# How long an answer waits for the workflow to issue (or settle) the invoice; Cal.com gets the number if it did.
ANSWER_WAIT = timedelta(seconds=5)

_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,120}$")
_CURRENCY: TypeAdapter[str] = TypeAdapter(CurrencyCode)


class SignatureError(Exception):
    """Why a delivery's signature was refused (said in the 401 answer)."""


class PayloadError(ValueError):
    """The delivery is not a booking billflow can read; the message names the field (422)."""


# --- signature --------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """What Cal.com puts in X-Cal-Signature-256: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str | None) -> None:
    if not signature:
        raise SignatureError(f"{SIGNATURE_HEADER} is required (set the webhook's secret in Cal.com)")
    presented = signature.strip().removeprefix("sha256=").lower()
    if not hmac.compare_digest(sign(secret, body), presented):
        raise SignatureError("signature does not match")


# --- parsing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    raw: dict[str, Any]
    envelope: CalWebhook
    trigger: CalTrigger | None  # None: a trigger billflow ignores
    booking: CalBooking | None


def _problems(err: ValidationError, prefix: str) -> str:
    return "; ".join(f"{'.'.join([prefix, *(str(p) for p in e['loc'])]).strip('.')}: {e['msg']}" for e in err.errors())


def parse_delivery(body: bytes) -> Delivery:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PayloadError(f"body: not JSON ({err})") from None
    if not isinstance(raw, dict):
        raise PayloadError("body: a JSON object is expected")
    try:
        reject_nul(raw)  # PostgreSQL text and JSONB cannot hold NUL: refuse it here, naming the field
    except ValueError as err:
        raise PayloadError(str(err)) from None
    try:
        envelope = CalWebhook.model_validate(raw)
    except ValidationError as err:
        raise PayloadError(_problems(err, "")) from None
    try:
        trigger = CalTrigger(envelope.trigger_event)
    except ValueError:
        return Delivery(raw, envelope, None, None)
    try:
        booking = CalBooking.model_validate(envelope.payload)
    except ValidationError as err:
        raise PayloadError(_problems(err, "payload")) from None
    if trigger not in (CalTrigger.booking_cancelled, CalTrigger.booking_rejected):
        client_from(booking)  # refuse an unusable attendee now, before anything is recorded
    return Delivery(raw, envelope, trigger, booking)


def _clip(text: str, limit: int = 2000) -> str:
    """Timeline messages and memos have a length limit; Cal.com's free text has none."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _zone(*names: str | None) -> str:
    """The first IANA zone name given (attendee, then organizer); Cal.com passes the browser's, unchecked."""
    return next((n for n in names if n is not None and is_iana_zone(n)), "UTC")


def client_from(booking: CalBooking) -> ClientIn:
    """The client is the first attendee (the booker); further attendees are guests, noted but not billed."""
    if not booking.attendees:
        raise PayloadError("payload.attendees: at least one attendee is required")
    first = booking.attendees[0]
    if not first.email:
        raise PayloadError("payload.attendees.0.email: required")
    email = first.email.strip()
    external_id = f"calcom:{email.lower()}"
    if not _KEY.match(external_id):  # e.g. a "+" in the address: a stable hash keeps it one client
        external_id = f"calcom:{hashlib.sha256(email.lower().encode()).hexdigest()[:40]}"
    organizer_zone = booking.organizer.time_zone if booking.organizer else None
    try:
        return ClientIn(
            external_id=external_id,
            name=(first.name or email).strip()[:200],
            email=email,
            timezone=_zone(first.time_zone, organizer_zone),
        )
    except ValidationError as err:
        raise PayloadError(_problems(err, "payload.attendees.0")) from None


# --- handling ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    db: Database
    temporal: Client
    settings: Settings
    integration: str
    trigger: CalTrigger
    booking: CalBooking
    received_at: datetime
    wait: timedelta
    session: AsyncSession  # the delivery row's transaction: an issued invoice commits with the delivery's answer
    workspace_id: int = DEFAULT_WORKSPACE_ID  # the integration's

    @property
    def key(self) -> str:
        """Timeline and action key of this delivery: one per (integration, booking uid, trigger)."""
        return f"calcom:{self.integration}:{self.booking.uid}:{self.trigger.value}"

    def source_key(self, root: str) -> str:
        return f"booking:{self.integration}:{root}"

    def workflow_id(self, root: str) -> str:
        # The id its BookingIn gives the run: in the integration's workspace.
        return workflow_ids.invoice(workspace_id=self.workspace_id, source=self.integration, booking_id=root)

    def result(
        self,
        outcome: CalOutcome,
        *,
        invoice: Invoice | None = None,
        workflow_id: str | None = None,
        state: InvoiceState | None = None,
        detail: str | None = None,
    ) -> CalDeliveryResult:
        number = state.number if state else invoice.number if invoice else None
        status = state.status.value if state else invoice.status if invoice else None
        return CalDeliveryResult(
            trigger=self.trigger.value,
            booking_uid=self.booking.uid,
            outcome=outcome,
            workflow_id=workflow_id or (invoice.workflow_id if invoice else None),
            invoice_number=number,
            invoice_status=status,
            detail=detail,
        )


async def handle_delivery(
    db: Database,
    temporal: Client,
    settings: Settings,
    *,
    integration: str,
    body: bytes,
    wait: timedelta = ANSWER_WAIT,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> tuple[CalDeliveryResult, bool]:
    """Handle a delivery verified with the integration's secret once, in the integration's `workspace_id`;
    returns its answer and whether it was a repeat."""
    delivery = parse_delivery(body)
    if delivery.trigger is None or delivery.booking is None:
        uid = delivery.envelope.payload.get("uid")
        return CalDeliveryResult(
            trigger=delivery.envelope.trigger_event,
            booking_uid=uid if isinstance(uid, str) else None,
            outcome=CalOutcome.ignored,
            detail="trigger not handled by billflow",
        ), False
    async with db.session() as session:
        ctx = _Context(
            db=db,
            temporal=temporal,
            settings=settings,
            integration=integration,
            trigger=delivery.trigger,
            booking=delivery.booking,
            received_at=delivery.envelope.created_at or utcnow(),
            wait=wait,
            session=session,
            workspace_id=workspace_id,
        )
        row = await inbox_repo.claim(
            session,
            source=InboxSource.calcom,
            channel=integration,
            event_key=f"{delivery.booking.uid}:{delivery.trigger.value}",
            type=delivery.trigger.value,
            payload=delivery.raw,
            workspace_id=workspace_id,  # the integration's: the one whose secret verified it
        )
        if row.result:
            return CalDeliveryResult.model_validate(row.result), True
        answer = await _act(ctx)
        await inbox_repo.record(session, event=row, outcome=answer.outcome, result=answer.model_dump(mode="json"))
    return answer, False


async def _act(ctx: _Context) -> CalDeliveryResult:
    match ctx.trigger:
        case CalTrigger.booking_created | CalTrigger.booking_requested:
            return await _created(ctx)
        case CalTrigger.booking_paid:
            return await _paid(ctx)
        case CalTrigger.booking_rescheduled:
            return await _rescheduled(ctx)
        case CalTrigger.booking_cancelled | CalTrigger.booking_rejected:
            return await _cancelled(ctx)


def _accepted(booking: CalBooking) -> bool:
    # A requested booking is invoiced once the organizer confirms it (Cal.com then reports it ACCEPTED).
    return (booking.status or "ACCEPTED").upper() == "ACCEPTED"


async def _created(ctx: _Context) -> CalDeliveryResult:
    if not _accepted(ctx.booking):
        return ctx.result(CalOutcome.awaiting_confirmation, detail=f"booking status {ctx.booking.status}")
    async with ctx.db.session() as session:
        mapped = await calcom_repo.add_booking(
            session,
            integration=ctx.integration,
            uid=ctx.booking.uid,
            root_uid=ctx.booking.uid,
            start_time=ctx.booking.start_time,
        )
    return await _issue(ctx, mapped.root_uid)


async def _paid(ctx: _Context) -> CalDeliveryResult:
    root = await _root_of(ctx)
    invoice = await _invoice_of(ctx, root)
    if invoice is None:
        return await _issue(ctx, root, paid=True)
    if invoice.balance_minor <= 0:
        return ctx.result(CalOutcome.already_paid, invoice=invoice)
    payment = _payment(ctx, root, amount_minor=invoice.balance_minor, currency=invoice.currency)
    # Facts first: recorded with the invoice's new status (and the run told through the outbox) before answering.
    await payments_service.deliver_payment(ctx.db, invoice=invoice, payment=payment, note="paid in Cal.com")
    await ctx.session.refresh(invoice)  # committed by deliver_payment's own transaction
    return _paid_result(ctx, invoice, invoice.workflow_id)


async def _rescheduled(ctx: _Context) -> CalDeliveryResult:
    booking = ctx.booking
    previous_uid = booking.reschedule_uid
    async with ctx.db.session() as session:
        root = booking.uid
        if previous_uid and previous_uid != booking.uid:
            previous = await calcom_repo.get_booking(session, integration=ctx.integration, uid=previous_uid)
            root = previous.root_uid if previous else previous_uid
            await calcom_repo.mark_superseded(
                session, integration=ctx.integration, uid=previous_uid, by_uid=booking.uid
            )
        mapped = await calcom_repo.add_booking(
            session, integration=ctx.integration, uid=booking.uid, root_uid=root, start_time=booking.start_time
        )
    root = mapped.root_uid
    invoice = await _invoice_of(ctx, root)
    if invoice is None:
        if not _accepted(booking):
            return ctx.result(CalOutcome.awaiting_confirmation, detail=f"booking status {booking.status}")
        return await _issue(ctx, root)  # the first booking of the chain never reached billflow
    assert invoice.id is not None
    if booking.start_time is None:
        return ctx.result(CalOutcome.rescheduled, invoice=invoice, detail="no startTime: service date unchanged")
    local_start = booking.start_time.astimezone(ZoneInfo(invoice.timezone))
    async with ctx.db.session() as session:
        await calcom_repo.set_service_date(session, invoice_id=invoice.id, service_date=local_start.date())
        await timeline_repo.add_event(
            session,
            client_id=invoice.client_id,
            invoice_id=invoice.id,
            kind="booking.rescheduled",
            message=_clip(
                f"Cal.com booking moved to {local_start:%Y-%m-%d %H:%M} ({invoice.timezone}); invoice {invoice.number} "
                f"kept, service date {local_start.date().isoformat()}"
            ),
            data={
                "integration": ctx.integration,
                "uid": booking.uid,
                "previous_uid": previous_uid or "",
                "previous_service_date": invoice.service_date.isoformat() if invoice.service_date else "",
                "service_date": local_start.date().isoformat(),
                "start_time": booking.start_time.isoformat(),
            },
            key=ctx.key,
        )
    return ctx.result(CalOutcome.rescheduled, invoice=await _invoice_of(ctx, root) or invoice)


async def _cancelled(ctx: _Context) -> CalDeliveryResult:
    booking = ctx.booking
    async with ctx.db.session() as session:
        mapped = await calcom_repo.get_booking(session, integration=ctx.integration, uid=booking.uid)
    if mapped is not None and mapped.superseded_by:
        # The booking was moved to a newer uid: cancelling the old slot does not cancel the invoice.
        return ctx.result(CalOutcome.superseded, detail=f"rescheduled as {mapped.superseded_by}")
    root = mapped.root_uid if mapped else booking.uid
    verb = "rejected" if ctx.trigger is CalTrigger.booking_rejected else "cancelled"
    reason = (booking.cancellation_reason or booking.rejection_reason or f"booking {verb} in Cal.com").strip()[:500]
    invoice = await _invoice_of(ctx, root)
    void_owed = False
    if invoice is not None and invoice.amount_paid_minor == 0 and not _final(invoice):
        # Owed to the run through the outbox in the delivery's transaction: no wait on the worker or Temporal.
        action = VoidInvoice(
            action_id="calcom-" + hashlib.sha256(ctx.key.encode()).hexdigest()[:40],
            actor=f"calcom:{ctx.integration}",
            reason=reason or f"booking {verb}",
        )
        await outbox_repo.enqueue_signal(
            ctx.session,
            workflow_id=invoice.workflow_id,
            name=outbox_repo.VOID,
            payload=action,
            key=f"void:{action.action_id}",
            workspace_id=invoice.workspace_id,
        )
        void_owed = True
    if invoice is None:
        return ctx.result(CalOutcome.no_invoice, detail="no invoice for this booking")
    paid = invoice.amount_paid_minor > 0
    if invoice.status == InvoiceStatus.void or void_owed:
        outcome = CalOutcome.voided
    elif paid:
        outcome = CalOutcome.refund_decision_flagged
    else:
        outcome = CalOutcome.already_closed
    message = f"Cal.com booking {booking.uid} {verb}: {reason}"
    if outcome is CalOutcome.refund_decision_flagged:
        message += f" - {invoice.amount_paid_minor} {invoice.currency} already paid: refund decision needed"
    async with ctx.db.session() as session:
        await timeline_repo.add_event(
            session,
            client_id=invoice.client_id,
            invoice_id=invoice.id,
            kind=f"booking.{verb}",
            message=_clip(message),
            data={
                "integration": ctx.integration,
                "uid": booking.uid,
                "reason": reason,
                "flag": "refund_decision" if outcome is CalOutcome.refund_decision_flagged else "",
                "amount_paid_minor": invoice.amount_paid_minor,
            },
            key=ctx.key,
        )
    return ctx.result(outcome, invoice=invoice)


# --- issuing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Price:
    service_name: str
    unit_price_minor: int
    currency: str
    tax_rate_bp: int
    source: str  # "catalog" or "calcom"


async def price_of(session: Any, booking: CalBooking, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> _Price | None:
    """The workspace's catalog first (event type id, then slug); Cal.com's own price as the fallback."""
    entry = await catalog_repo.find_entry(
        session, workspace_id=workspace_id, event_type_id=booking.event_type_id, slug=booking.type
    )
    if entry is not None:
        return _Price(entry.service_name, entry.unit_price_minor, entry.currency, entry.tax_rate_bp, "catalog")
    if booking.price and booking.currency:
        try:
            currency = _currency(booking.currency)
        except ValueError:
            return None
        name = booking.event_title or booking.type or booking.title or "Booking"
        return _Price(name[:500], booking.price, currency, 0, "calcom")
    return None


def _currency(code: str) -> str:
    return _CURRENCY.validate_python(code)


def booking_in(ctx: _Context, root: str, client: ClientIn, price: _Price) -> BookingIn:
    booking = ctx.booking
    local_start = booking.start_time.astimezone(ZoneInfo(client.timezone)) if booking.start_time else None
    memo = [booking.title or booking.event_title or booking.type or "Cal.com booking"]
    if local_start is not None:
        memo.append(f"{local_start:%Y-%m-%d %H:%M} ({client.timezone})")
    guests = _guests(booking)
    if guests:
        memo.append(f"Guests (not billed): {guests}")
    return BookingIn(
        source=ctx.integration,
        client_source=integration_source(ctx.integration),
        requested_by=f"calcom:{ctx.integration}",
        workspace_id=ctx.workspace_id,  # its client, number series, seller and run are the integration's workspace's
        booking_id=root,
        client=client,
        lines=[
            LineIn(
                description=price.service_name,
                unit_price_minor=price.unit_price_minor,
                tax_rate_bp=price.tax_rate_bp,
            )
        ],
        currency=price.currency,
        payment_terms=PAYMENT_TERMS,
        service_date=local_start.date() if local_start else None,
        memo=_clip(" - ".join(memo)),
    )


def _guests(booking: CalBooking) -> str:
    return ", ".join(f"{g.name} <{g.email}>" if g.email else g.name for g in booking.attendees[1:])


async def _issue(ctx: _Context, root: str, *, paid: bool = False) -> CalDeliveryResult:
    """Issue the chain's invoice in the delivery's transaction (billflow/services/intake.py), with the Cal.com
    payment recorded on it when `paid`; its run starts through the outbox."""
    client = client_from(ctx.booking)
    session = ctx.session
    client_id = await clients_repo.upsert_client(
        session,
        client=client,
        source=integration_source(ctx.integration),
        actor=f"calcom:{ctx.integration}",
        workspace_id=ctx.workspace_id,
    )
    price = await price_of(session, ctx.booking, workspace_id=ctx.workspace_id)
    if price is None:
        await timeline_repo.add_event(
            session,
            client_id=client_id,
            kind="booking.unpriced",
            message=_clip(
                f"Cal.com booking {ctx.booking.uid} ({ctx.booking.type or ctx.booking.event_type_id}) has no price "
                "in billflow's catalog or in Cal.com: no invoice issued"
            ),
            data={
                "integration": ctx.integration,
                "uid": ctx.booking.uid,
                "event_type": _clip(ctx.booking.type or "", 200),
            },
            key=ctx.key,
        )
        return ctx.result(CalOutcome.no_price, detail="no catalog entry and no Cal.com price")
    if ctx.booking.attendees[1:]:
        await timeline_repo.add_event(
            session,
            client_id=client_id,
            kind="booking.guests",
            message=_clip(f"Guests on Cal.com booking {ctx.booking.uid}, noted and not billed: {_guests(ctx.booking)}"),
            data={"integration": ctx.integration, "uid": ctx.booking.uid},
            key=f"{ctx.key}:guests",
        )
    booking = booking_in(ctx, root, client, price)
    payment = None
    if paid:
        total = sum(invoicing.price_line(line).total_minor for line in booking.lines)
        payment = _payment(ctx, root, amount_minor=total, currency=booking.currency)
    issued = await intake.issue_booking(session, ctx.settings, booking, paid_with=payment, note="paid in Cal.com")
    if not issued.new and not paid:
        return ctx.result(CalOutcome.invoice_exists, invoice=issued.invoice)
    invoice = await invoices_repo.get_invoice(session, source_key=booking.source_key) or issued.invoice
    if paid:
        return _paid_result(ctx, invoice, booking.workflow_id)
    return ctx.result(CalOutcome.invoice_started, invoice=invoice, workflow_id=booking.workflow_id)


def _paid_result(ctx: _Context, invoice: Invoice | None, workflow_id: str) -> CalDeliveryResult:
    if invoice is not None and invoice.amount_paid_minor > 0:
        return ctx.result(CalOutcome.paid, invoice=invoice, workflow_id=workflow_id)
    # Signalled, but not applied within the answer's wait: the workflow records it when it gets to it.
    return ctx.result(CalOutcome.payment_sent, invoice=invoice, workflow_id=workflow_id)


def _payment(ctx: _Context, root: str, *, amount_minor: int, currency: str) -> PaymentReceived:
    # One Cal.com payment per booking chain (its payment id when Cal.com sends one): a repeat records nothing.
    reference = f"{ctx.integration}:{ctx.booking.payment_id or root}"
    return PaymentReceived(
        provider=PROVIDER,
        provider_reference=reference[:200],
        amount_minor=amount_minor,
        currency=currency,
        received_at=ctx.received_at,
        method="calcom",
    )


# --- lookups ----------------------------------------------------------------------------------------


async def _root_of(ctx: _Context) -> str:
    """The chain's root uid for this booking, registering the uid if billflow has not seen it."""
    booking = ctx.booking
    async with ctx.db.session() as session:
        known = await calcom_repo.get_booking(session, integration=ctx.integration, uid=booking.uid)
        if known is not None:
            return known.root_uid
        root = booking.uid
        if booking.reschedule_uid:
            previous = await calcom_repo.get_booking(session, integration=ctx.integration, uid=booking.reschedule_uid)
            root = previous.root_uid if previous else booking.reschedule_uid
        mapped = await calcom_repo.add_booking(
            session, integration=ctx.integration, uid=booking.uid, root_uid=root, start_time=booking.start_time
        )
        return mapped.root_uid


async def _invoice_of(ctx: _Context, root: str) -> Invoice | None:
    return await invoices_repo.get_invoice(ctx.session, source_key=ctx.source_key(root))


def _final(invoice: Invoice) -> bool:
    return InvoiceStatus(invoice.status).is_final
