"""Payments arriving from outside the workflow (pay page, webhooks, Cal.com): facts first. The payment and the
invoice's new status are committed in the request's own short transaction, with a `payment_recorded` signal in
the outbox (billflow/runs/outbox_relay.py), so the answer never waits on the worker or on Temporal; the run then
does what takes time (the receipt, no more reminders)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import payment_lookups as payments_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.services import invoicing
from models.columns import utcnow
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import PaymentOutcome, PaymentReceived

log = logging.getLogger(__name__)

LOCAL_PROVIDER = "local"


async def deliver_payment(
    db: Database, *, invoice: Invoice, payment: PaymentReceived, note: str | None = None
) -> PaymentOutcome:
    """Record the payment and settle the invoice's status, and tell its run through the outbox, in one
    transaction; idempotent on (provider, provider_reference), so a replayed webhook records nothing new.

    A payment the database refuses (another currency) is handed to the run as before, which records the
    rejection on the timeline. A run that has closed gets nothing; a refund then reopens the invoice (the relay's
    on-closed handler).
    """
    assert invoice.id is not None
    async with db.session() as session:
        outcome = await invoicing.record_payment(session, invoice_id=invoice.id, payment=payment, note=note)
        name = outbox_repo.PAYMENT_RECEIVED if outcome.rejected_reason else outbox_repo.PAYMENT_RECORDED
        await outbox_repo.enqueue_signal(
            session,
            workflow_id=invoice.workflow_id,
            name=name,
            payload=payment,
            key=f"payment:{payment.provider}:{payment.provider_reference}",
        )
    log.info(
        "payment %s/%s on %s recorded (new=%s, status %s)",
        payment.provider,
        payment.provider_reference,
        invoice.number,
        outcome.recorded,
        outcome.status.value,
    )
    return outcome


# --- the local (zero-setup) pay page -----------------------------------------------------------------


def payable(invoice: Invoice) -> bool:
    status = InvoiceStatus(invoice.status)
    return invoice.balance_minor > 0 and status not in (InvoiceStatus.void, InvoiceStatus.paid)


def local_pay_nonce(invoice: Invoice, *, payments_count: int) -> str:
    """The one-time nonce rendered into the pay form.

    Derived from the invoice's payment state (keyed by its unguessable token): every form shown for the same
    state carries the same nonce, so a double submit, or two open tabs, pay once; after any payment or refund
    the state changes and so does the nonce, so an old form cannot pay again.
    """
    message = f"local-pay:{invoice.id}:{invoice.amount_paid_minor}:{payments_count}".encode()
    return hmac.new(invoice.public_token.encode(), message, hashlib.sha256).hexdigest()[:32]


class LocalPayOutcome(StrEnum):
    paid = "paid"  # a payment was signalled (or was already being recorded) for this nonce
    not_payable = "not_payable"  # paid, void or zero balance: nothing to pay
    stale_form = "stale_form"  # the invoice changed since the form was shown: show a fresh one


@dataclass(frozen=True)
class LocalPayResult:
    outcome: LocalPayOutcome
    invoice: Invoice


async def pay_locally(db: Database, *, public_token: str, nonce: str) -> LocalPayResult | None:
    """Pay the invoice's current balance (from the database, never the request) once per nonce."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, public_token=public_token)
        if invoice is None:
            return None
        assert invoice.id is not None
        already = await payments_repo.get_payment(session, provider=LOCAL_PROVIDER, reference=nonce)
        count = await payments_repo.count_payments(session, invoice_id=invoice.id)
    if already is not None and already.invoice_id == invoice.id:
        return LocalPayResult(LocalPayOutcome.paid, invoice)  # a double submit after the first was recorded
    if not payable(invoice):
        return LocalPayResult(LocalPayOutcome.not_payable, invoice)
    if not hmac.compare_digest(nonce, local_pay_nonce(invoice, payments_count=count)):
        return LocalPayResult(LocalPayOutcome.stale_form, invoice)
    payment = PaymentReceived(
        provider=LOCAL_PROVIDER,
        provider_reference=nonce,
        amount_minor=invoice.balance_minor,
        currency=invoice.currency,
        received_at=utcnow(),
        method="card",
    )
    await deliver_payment(db, invoice=invoice, payment=payment, note="paid on billflow's pay page")
    return LocalPayResult(LocalPayOutcome.paid, invoice)


__all__ = [
    "LOCAL_PROVIDER",
    "LocalPayOutcome",
    "LocalPayResult",
    "deliver_payment",
    "local_pay_nonce",
    "pay_locally",
    "payable",
]
