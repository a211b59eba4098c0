"""Payments arriving from outside the workflow (pay page, webhooks): signalled to the invoice's workflow, or
recorded directly when that workflow has already closed, so a late payment is never lost."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum

from temporalio.client import Client

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import payment_lookups as payments_repo
from billflow.services import invoicing
from billflow.services.invoice_reopen import reopen_if_unsettled
from billflow.services.invoice_runs import WorkflowClosed, send_payment
from models.columns import utcnow
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import PaymentReceived

log = logging.getLogger(__name__)

LOCAL_PROVIDER = "local"


async def deliver_payment(
    db: Database, temporal: Client, *, invoice: Invoice, payment: PaymentReceived, note: str | None = None
) -> None:
    """Signal the invoice's workflow; if it has closed, record the payment in the database directly.

    Both paths are idempotent on (provider, provider_reference), so a replay of either records nothing new.
    """
    try:
        await send_payment(temporal, invoice.workflow_id, payment)
    except WorkflowClosed:
        assert invoice.id is not None
        async with db.session() as session:
            outcome = await invoicing.record_payment(session, invoice_id=invoice.id, payment=payment, note=note)
        log.info(
            "workflow %s closed: payment %s recorded directly (new=%s)",
            invoice.workflow_id,
            payment.provider_reference,
            outcome.recorded,
        )
        await _reopen(db, temporal, invoice_id=invoice.id)


async def _reopen(db: Database, temporal: Client, *, invoice_id: int) -> None:
    """A refund after the run closed leaves the invoice owed again: its collection starts again (a new run).
    Webhooks must still answer, so a failure here is logged; the invoice stays owed in the database (and in
    every report) either way."""
    try:
        await reopen_if_unsettled(db, temporal, invoice_id=invoice_id)
    except Exception:
        log.exception("invoice %s is owed again but its collection could not be restarted", invoice_id)


async def wait_for_payment(
    db: Database, *, provider: str, reference: str, timeout: float = 5.0, interval: float = 0.05
) -> bool:
    """Poll until the workflow has recorded the payment (so the page the client lands on shows it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with db.session() as session:
            if await payments_repo.get_payment(session, provider=provider, reference=reference) is not None:
                return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(interval)


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


async def pay_locally(db: Database, temporal: Client, *, public_token: str, nonce: str) -> LocalPayResult | None:
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
    await deliver_payment(db, temporal, invoice=invoice, payment=payment, note="paid on billflow's pay page")
    await wait_for_payment(db, provider=LOCAL_PROVIDER, reference=nonce)
    return LocalPayResult(LocalPayOutcome.paid, invoice)


__all__ = [
    "LOCAL_PROVIDER",
    "LocalPayOutcome",
    "LocalPayResult",
    "deliver_payment",
    "local_pay_nonce",
    "pay_locally",
    "payable",
    "wait_for_payment",
]
