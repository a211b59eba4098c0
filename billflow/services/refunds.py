"""Refunds: money an invoice received, given back (issue 15).

Two ways in, one way of recording. Staff refund a payment from the app or the API: a Stripe payment through
Stripe (the official client, a stable idempotency key per request), any other payment (bank transfer, cash, the
local pay page) recorded as refunded by hand. Stripe's `charge.refunded` webhook (a refund made in Stripe's
dashboard) records the same way. Stripe refunds are recorded by the charge's cumulative amount refunded, under
the reference `{charge}:refunded:{total}`, so whichever of the staff action and the webhook comes second finds
nothing left to record.

What the invoice becomes is the staff's choice, made with the refund:
- `credited`: the client no longer owes the money (service not delivered, goodwill): a refund credit note lowers
  the price by the amount returned beyond any overpayment, so a paid invoice stays paid;
- `owed_again`: the money was returned for another reason (wrong card, paid twice by mistake is `credited`):
  the invoice is unsettled again (paid -> partially paid, open or overdue) and its collection restarts.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, PrivateAttr
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from billflow.db import Database
from billflow.payments.stripe import StripeGateway, StripeRejected, StripeUnavailable
from billflow.repositories import attention, payment_lookups
from billflow.repositories import checkout_sessions as sessions_repo
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import credit_notes, invoicing, stripe_accounts
from billflow.services.checkout import STRIPE_PROVIDER
from billflow.services.payments import deliver_payment
from billflow.services.stripe_accounts import route_of_session
from models.columns import utcnow
from models.credit_notes import CreditNote
from models.enums import CreditNoteKind, EmailKind, InvoiceStatus, PaymentKind
from models.invoices import Invoice
from models.money import format_money
from models.payments import Payment
from models.workflow_io import PaymentOutcome, PaymentReceived, SendEmailInput

log = logging.getLogger(__name__)

MANUAL_PROVIDER = "manual"


class RefundOutcome(StrEnum):
    credited = "credited"  # the price is lowered by a refund credit note: nothing is owed for the money returned
    owed_again = "owed_again"  # the client owes the money again: the invoice reopens and its collection restarts


class RefundRefused(ValueError):
    """The refund cannot be made; `field` names the request field at fault (payment_id, amount_minor, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvoiceNotFound(LookupError):
    pass


class RefundUnavailable(Exception):
    """Stripe did not answer (or answered 429/5xx): nothing is recorded; the same request may be sent again."""


class RefundRequest(BaseModel):
    payment_id: int = Field(gt=0, description="the payment to give money back from (see the invoice's payments)")
    amount_minor: int | None = Field(
        default=None, gt=0, le=10**13, description="minor units; default: all that is left of the payment"
    )
    reason: str = Field(min_length=1, max_length=500)
    outcome: RefundOutcome = RefundOutcome.credited
    request_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", description="the same id refunds once"
    )


class RefundablePayment(BaseModel):
    payment_id: int
    provider: str
    method: str
    received_at: datetime
    currency: str
    amount_minor: int
    refunded_minor: int
    refundable_minor: int
    through_stripe: bool  # refunded through Stripe (else recorded as refunded by hand)


class RefundResult(BaseModel):
    number: str
    payment_id: int
    amount_minor: int
    currency: str
    provider: str
    provider_reference: str
    recorded: bool  # False: this request (or Stripe's webhook) had recorded it already
    status: InvoiceStatus
    balance_minor: int
    credit_note_number: str | None
    stripe_refund_id: str | None
    # The client's refund email (with the credit note attached), when this request recorded the refund: the
    # edge sends it after answering, under a key of its own (once, however often the request is repeated).
    _client_email: SendEmailInput | None = PrivateAttr(default=None)

    @property
    def client_email(self) -> SendEmailInput | None:
        return self._client_email


# --- reading -----------------------------------------------------------------------------------------


async def refundable_payments(session: AsyncSession, *, invoice: Invoice) -> list[RefundablePayment]:
    """The invoice's payments with what is left to refund of each (all of them, including fully refunded)."""
    assert invoice.id is not None
    refunded = await payments_repo.refunded_by_payment(session, invoice_id=invoice.id)
    out = []
    for p in await payments_repo.list_payments(session, invoice_id=invoice.id):
        if p.kind != PaymentKind.payment or p.id is None:
            continue
        done = refunded.get(p.id, 0)
        out.append(
            RefundablePayment(
                payment_id=p.id,
                provider=p.provider,
                method=p.method,
                received_at=p.received_at,
                currency=p.currency,
                amount_minor=p.amount_minor,
                refunded_minor=done,
                refundable_minor=max(0, p.amount_minor - done),
                through_stripe=p.provider == STRIPE_PROVIDER,
            )
        )
    return out


async def refundable_for(db: Database, *, number: str) -> list[RefundablePayment]:
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        return [] if invoice is None else await refundable_payments(session, invoice=invoice)


async def refund_decision_pending(db: Database, *, number: str) -> bool:
    """A refund decision is waiting on this invoice (the overview lists it)."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None or invoice.id is None:
            return False
        return await attention.refund_decision_pending(session, invoice_id=invoice.id)


async def keep_payment(db: Database, *, number: str, reason: str, request_id: str, actor: str) -> bool:
    """Decide not to refund (a cancellation fee, a late cancellation): the decision goes on the timeline and the
    invoice leaves "refunds to decide". False when this request had decided it already."""
    if not reason.strip() or len(reason) > 500:
        raise RefundRefused("reason", "give a reason (up to 500 characters)")
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number, for_update=True)
        if invoice is None or invoice.id is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        key = f"refund-decided:{invoice.id}:{request_id}"
        if await timeline_repo.event_exists(session, key=key):
            return False
        if not await attention.refund_decision_pending(session, invoice_id=invoice.id):
            raise RefundRefused("decision", f"no refund decision is waiting on invoice {number}")
        return await timeline_repo.add_event(
            session,
            client_id=invoice.client_id,
            invoice_id=invoice.id,
            kind="refund.decided",
            message=f"No refund, decided by {actor}: {reason.strip()}",
            data={"actor": actor, "outcome": "kept", "amount_minor": 0, "reason": reason.strip()},
            key=key,
        )


# --- recording (shared by the staff action and the webhook) --------------------------------------------


async def record_refund(
    session: AsyncSession,
    *,
    invoice_id: int,
    refund: PaymentReceived,
    outcome: RefundOutcome,
    reason: str,
    note: str | None,
    refund_of_payment_id: int | None,
) -> tuple[PaymentOutcome, CreditNote | None]:
    """Record a refund once per reference; `credited` first issues its credit note in the same transaction, so
    the balance stays settled instead of reopening. The caller has locked the invoice."""
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id, for_update=True)
    assert invoice is not None
    note_issued = None
    if outcome is RefundOutcome.credited:
        credit = credit_notes.refund_credit_minor(invoice, refund.amount_minor)
        if credit > 0:
            note_issued = await credit_notes.issue_credit_note(
                session,
                invoice_id=invoice_id,
                kind=CreditNoteKind.refund,
                reason=reason,
                key=f"refund:{refund.provider_reference}",
                amount_minor=credit,
                refund_reference=refund.provider_reference,
                issued_at=refund.received_at,
            )
    recorded = await invoicing.record_payment(
        session,
        invoice_id=invoice_id,
        payment=refund,
        kind=PaymentKind.refund,
        note=note,
        refund_of_payment_id=refund_of_payment_id,
    )
    return recorded, note_issued


async def refunded_for_charge(session: AsyncSession, *, charge_id: str) -> int:
    return await payments_repo.refunded_with_reference_prefix(
        session, provider=STRIPE_PROVIDER, prefix=f"{charge_id}:refunded:"
    )


async def stripe_payment_of_intent(session: AsyncSession, *, payment_intent_id: str | None) -> Payment | None:
    """The Stripe payment a charge's payment intent paid (through its Checkout Session), if billflow has it."""
    if not payment_intent_id:
        return None
    row = await sessions_repo.get_session(session, payment_intent_id=payment_intent_id)
    if row is None:
        return None
    return await payment_lookups.get_payment(session, provider=STRIPE_PROVIDER, reference=row.stripe_session_id)


# --- the staff action ----------------------------------------------------------------------------------


async def refund_payment(
    db: Database,
    temporal: Client,
    gateway: StripeGateway | None,
    *,
    number: str,
    request: RefundRequest,
    actor: str,
) -> RefundResult:
    """Refund (part of) one payment of the invoice; the same request_id refunds once, whatever is repeated."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        assert invoice.id is not None
        payments = {p.payment_id: p for p in await refundable_payments(session, invoice=invoice)}
    paid = payments.get(request.payment_id)
    if paid is None:
        raise RefundRefused("payment_id", f"payment {request.payment_id} is not a payment of invoice {number}")
    money = lambda minor: format_money(minor, invoice.currency)  # noqa: E731
    async with db.session() as session:
        done = await timeline_repo.get_event(session, key=_decision_key(invoice, request))
    if done is not None:  # a repeated request (a double submit): answer what the first one did
        row = await _refund_row(db, str(done.data.get("reference", "")))
        return await _result(db, invoice, paid, int(done.data.get("amount_minor", 0)), row, recorded=False)
    amount = request.amount_minor if request.amount_minor is not None else paid.refundable_minor
    if paid.refundable_minor <= 0:
        raise RefundRefused("payment_id", f"payment {paid.payment_id} has been refunded in full")
    if amount > paid.refundable_minor:
        raise RefundRefused("amount_minor", f"at most {money(paid.refundable_minor)} of this payment is left to refund")
    status = InvoiceStatus(invoice.status)
    if request.outcome is RefundOutcome.owed_again and status in (InvoiceStatus.void, InvoiceStatus.uncollectible):
        raise RefundRefused("outcome", f"invoice {number} is {status.value}: nobody owes it again")
    note = f"{request.reason} (refunded by {actor})"
    if paid.through_stripe:
        return await _refund_through_stripe(db, temporal, gateway, invoice, paid, amount, request, actor)
    reference = f"refund:{invoice.id}:{request.request_id}"
    refund = PaymentReceived(
        provider=MANUAL_PROVIDER,
        provider_reference=reference,
        amount_minor=amount,
        currency=invoice.currency,
        received_at=utcnow(),
        method=paid.method,
    )
    async with db.session() as session:
        await invoices_repo.get_invoice(session, invoice_id=invoice.id, for_update=True)
        recorded, _ = await record_refund(
            session,
            invoice_id=invoice.id,
            refund=refund,
            outcome=request.outcome,
            reason=f"Refund of {money(amount)}: {request.reason}",
            note=note,
            refund_of_payment_id=paid.payment_id,
        )
        if recorded.rejected_reason:
            raise RefundRefused("amount_minor", recorded.rejected_reason)
        await _decided(session, invoice, request, actor, amount, reference=reference)
    await deliver_payment(db, invoice=invoice, payment=refund, note=note)
    row = await _refund_row(db, reference)
    return await _result(db, invoice, paid, amount, row, recorded=recorded.recorded)


async def _refund_through_stripe(
    db: Database,
    temporal: Client,
    gateway: StripeGateway | None,
    invoice: Invoice,
    paid: RefundablePayment,
    amount: int,
    request: RefundRequest,
    actor: str,
) -> RefundResult:
    assert invoice.id is not None
    note = f"{request.reason} (refunded by {actor}; Stripe)"
    if gateway is None:
        raise RefundRefused("payment_id", "this payment was made through Stripe, and Stripe is not configured")
    async with db.session() as session:
        payment = await payments_repo.get_payment(session, payment_id=paid.payment_id)
        assert payment is not None
        row = await sessions_repo.get_session(session, stripe_session_id=payment.provider_reference)
        if row is None or not row.payment_intent_id:
            raise RefundRefused("payment_id", f"payment {paid.payment_id} has no Stripe payment intent to refund")
        try:
            # On the account the payment was taken on (a workspace's connected account or own keys, or the
            # installation's).
            on_its_account = await stripe_accounts.gateway_for(session, gateway, route_of_session(row))
        except StripeRejected as err:
            raise RefundRefused("payment_id", f"Stripe cannot be reached for this payment: {err}") from err
    try:
        made = await on_its_account.create_refund(
            payment_intent_id=row.payment_intent_id,
            amount_minor=amount,
            metadata={"billflow_invoice_id": str(invoice.id), "billflow_payment_id": str(paid.payment_id)},
            idempotency_key=f"refund:{invoice.id}:{request.request_id}",
        )
    except StripeRejected as err:
        raise RefundRefused("amount_minor", f"Stripe refused the refund: {err}") from err
    except StripeUnavailable as err:
        raise RefundUnavailable(str(err)) from err
    if made.status in ("failed", "canceled"):
        raise RefundRefused("payment_id", f"Stripe could not refund: {made.failure_reason or made.status}")
    reference = f"{made.charge_id}:refunded:{made.charge_amount_refunded}"
    async with db.session() as session:
        # Locked first, so this and the webhook of the same charge compute their difference in turn.
        await invoices_repo.get_invoice(session, invoice_id=invoice.id, for_update=True)
        delta = made.charge_amount_refunded - await refunded_for_charge(session, charge_id=made.charge_id)
        recorded = None
        if delta > 0:
            refund = PaymentReceived(
                provider=STRIPE_PROVIDER,
                provider_reference=reference,
                amount_minor=delta,
                currency=made.currency or invoice.currency,
                received_at=utcnow(),
                method="card",
            )
            recorded, _ = await record_refund(
                session,
                invoice_id=invoice.id,
                refund=refund,
                outcome=request.outcome,
                reason=f"Refund of {format_money(delta, invoice.currency)} by card: {request.reason}",
                note=f"{note[:-1]} refund {made.id})",
                refund_of_payment_id=paid.payment_id,
            )
            if recorded.rejected_reason:
                log.error("Stripe refund %s of %s not recorded: %s", made.id, invoice.number, recorded.rejected_reason)
        await _decided(session, invoice, request, actor, amount, reference=reference)
    if recorded is not None and recorded.recorded:
        await deliver_payment(db, invoice=invoice, payment=refund, note=note)
    stored = await _refund_row(db, reference)
    result = await _result(db, invoice, paid, amount, stored, recorded=bool(recorded and recorded.recorded))
    result.stripe_refund_id = made.id
    return result


def _decision_key(invoice: Invoice, request: RefundRequest) -> str:
    return f"refund-decided:{invoice.id}:{request.request_id}"


async def _refund_row(db: Database, reference: str) -> Payment | None:
    provider = STRIPE_PROVIDER if ":refunded:" in reference else MANUAL_PROVIDER
    async with db.session() as session:
        return await payment_lookups.get_payment(session, provider=provider, reference=reference)


async def _decided(
    session: AsyncSession, invoice: Invoice, request: RefundRequest, actor: str, amount: int, *, reference: str
) -> None:
    """The staff decision on the timeline (it also clears a `refund_decision` flag from the attention list)."""
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="refund.decided",
        message=f"Refund of {format_money(amount, invoice.currency)} by {actor}: {request.reason}"
        + (" (owed again)" if request.outcome is RefundOutcome.owed_again else " (credited)"),
        data={
            "actor": actor,
            "outcome": request.outcome.value,
            "amount_minor": amount,
            "reason": request.reason,
            "reference": reference,
        },
        key=_decision_key(invoice, request),
    )


async def _result(
    db: Database, invoice: Invoice, paid: RefundablePayment, amount: int, row: Payment | None, *, recorded: bool
) -> RefundResult:
    async with db.session() as session:
        now = await invoices_repo.get_invoice(session, invoice_id=invoice.id or 0)
        assert now is not None
        issued = None
        if row is not None:
            issued = await credit_notes_repo.get_credit_note(
                session, idempotency_key=f"refund:{row.provider_reference}"
            )
    note, credit_note_id = (issued.number, issued.id) if issued is not None else (None, None)
    result = RefundResult(
        number=invoice.number,
        payment_id=paid.payment_id,
        amount_minor=amount,
        currency=invoice.currency,
        provider=row.provider if row else STRIPE_PROVIDER,
        provider_reference=row.provider_reference if row else "",
        recorded=recorded,
        status=InvoiceStatus(now.status),
        balance_minor=now.balance_minor,
        credit_note_number=note,
        stripe_refund_id=None,
    )
    if recorded and row is not None and invoice.id is not None:
        result._client_email = SendEmailInput(
            invoice_id=invoice.id,
            kind=EmailKind.refund,
            idempotency_key=f"staff-refund:{row.provider}:{row.provider_reference}",
            credit_note_id=credit_note_id,
        )
    return result
