"""Stripe Checkout behind billflow's stable pay URL, and turning a completed session into a payment.

One visit of /pay/{token}: reuse the invoice's open session if it still asks for the current balance and has
time left; otherwise open the next attempt (idempotency key from invoice, attempt and amount, so a retried or
concurrent create returns the same session) and expire the superseded one. The amount is always the balance
in the database.

The same `apply_session` is used by the webhook, by a visit that finds a session already completed, and by
the reconciliation sweep for missed webhooks, so all three record a payment the same way: once, keyed by the
session id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.payments.stripe import SessionSnapshot, StripeGateway, StripeRejected, StripeUnavailable
from billflow.repositories import checkout_sessions as sessions_repo
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import stripe_accounts
from billflow.services.invoice_runs import WorkflowClosed, send_collection
from billflow.services.payments import deliver_payment, payable
from billflow.services.stripe_accounts import route_of_session
from models.checkout_sessions import CheckoutSession, CheckoutSessionStatus
from models.columns import utcnow
from models.invoices import Invoice
from models.workflow_io import PaymentFailed, PaymentProcessing, PaymentReceived

log = logging.getLogger(__name__)

STRIPE_PROVIDER = "stripe"
# A session with less time left than this is replaced rather than handed to a client who is about to pay.
MIN_TIME_LEFT = timedelta(minutes=10)


class CheckoutOutcome(StrEnum):
    redirect = "redirect"  # go to Stripe's hosted page at `url`
    settled = "settled"  # paid, void or a completed session is being recorded: show the invoice page
    unavailable = "unavailable"  # Stripe refused or is down: show an apology (staff see Stripe's message)


@dataclass(frozen=True)
class CheckoutResult:
    outcome: CheckoutOutcome
    url: str | None = None
    message: str | None = None


def checkout_params(
    invoice: Invoice, *, client_email: str, lines: list[Any], base_url: str, attempt: int
) -> dict[str, Any]:
    """The Checkout Session for the invoice's balance: its own lines when nothing was paid yet, else one line."""
    balance = invoice.balance_minor
    if invoice.amount_paid_minor == 0 and sum(line.total_minor for line in lines) == balance:
        items = [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": line.total_minor,
                    "product_data": {"name": f"{line.description} x {line.quantity.normalize():f}"[:250]},
                },
            }
            for line in lines
            if line.total_minor > 0
        ]
    else:
        items = [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": balance,
                    "product_data": {"name": f"Balance of invoice {invoice.number}"},
                },
            }
        ]
    metadata = {
        "billflow_invoice_id": str(invoice.id),
        "billflow_invoice_number": invoice.number,
        "billflow_workflow_id": invoice.workflow_id,
        "billflow_attempt": str(attempt),
    }
    return {
        "mode": "payment",
        "line_items": items,
        "customer_email": client_email,
        "client_reference_id": str(invoice.id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"Invoice {invoice.number}"},
        "success_url": f"{base_url}/i/{invoice.public_token}?paid=1",
        "cancel_url": f"{base_url}/i/{invoice.public_token}",
    }


def create_key(invoice: Invoice, attempt: int) -> str:
    """Stable across retries of the same attempt; the amount is in it so a changed balance never replays."""
    return f"billflow:checkout:{invoice.id}:{attempt}:{invoice.balance_minor}{invoice.currency}"


async def open_checkout(
    db: Database, temporal: Client, gateway: StripeGateway, settings: Settings, *, invoice_id: int
) -> CheckoutResult:
    base = settings.public_base_url.rstrip("/")
    async with db.session() as session:
        await sessions_repo.lock_invoice_checkout(session, invoice_id=invoice_id)
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
        assert invoice is not None and invoice.id is not None
        if not payable(invoice):
            return CheckoutResult(CheckoutOutcome.settled)
        latest = await sessions_repo.latest_session(session, invoice_id=invoice.id)
        superseded: CheckoutSession | None = None
        completed: SessionSnapshot | None = None
        unavailable: StripeUnavailable | None = None
        if latest is not None and latest.status == CheckoutSessionStatus.complete and latest.payment_status != "failed":
            return CheckoutResult(CheckoutOutcome.settled)  # paid or still settling: never a second session
        try:
            if latest is not None and latest.status == CheckoutSessionStatus.open:
                on_its_account = await stripe_accounts.gateway_for(session, gateway, route_of_session(latest))
                snapshot = await on_its_account.retrieve_session(latest.stripe_session_id)
                _copy(snapshot, latest)
                session.add(latest)
                if snapshot.status == CheckoutSessionStatus.complete:
                    completed = snapshot  # a webhook we have not seen yet (or missed): record it below
                elif _reusable(snapshot, invoice):
                    return CheckoutResult(CheckoutOutcome.redirect, url=snapshot.url)
                elif snapshot.status == CheckoutSessionStatus.open:
                    superseded = latest
            if completed is None:
                attempt = (latest.attempt + 1) if latest is not None else 1
                try:
                    created = await _create(
                        session, gateway, invoice, attempt=attempt, superseded=superseded, base=base
                    )
                except StripeUnavailable as err:
                    if err.replayed and err.status is not None and err.status >= 500:
                        _use_up(session, invoice, attempt)
                    unavailable = err
        except StripeRejected as err:
            await _staff_notice(session, invoice, err)
            return CheckoutResult(CheckoutOutcome.unavailable, message=str(err))
    if unavailable is not None:
        raise unavailable
    if completed is not None:
        await apply_session(db, temporal, completed, received_at=utcnow(), source="pay page")
        return CheckoutResult(CheckoutOutcome.settled)
    log.info("invoice %s: checkout session %s", invoice.number, created.id)
    return CheckoutResult(CheckoutOutcome.redirect, url=created.url)


async def _create(
    session: Any,
    gateway: StripeGateway,
    invoice: Invoice,
    *,
    attempt: int,
    superseded: CheckoutSession | None,
    base: str,
) -> SessionSnapshot:
    """Open the next attempt's session, store it, and expire the one it replaces."""
    assert invoice.id is not None
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    lines = list(await invoices_repo.get_lines(session, invoice_id=invoice.id))
    # On the issuing workspace's connected Stripe account or with its own keys, if it has either (issue 13.4).
    route = await stripe_accounts.route_of_workspace(session, workspace_id=invoice.workspace_id)
    created = await (await stripe_accounts.gateway_for(session, gateway, route)).create_session(
        checkout_params(invoice, client_email=client.email, lines=lines, base_url=base, attempt=attempt),
        idempotency_key=create_key(invoice, attempt),
    )
    row = CheckoutSession(
        invoice_id=invoice.id,
        attempt=attempt,
        stripe_session_id=created.id,
        amount_minor=invoice.balance_minor,
        currency=invoice.currency,
        stripe_account=route.account,
        stripe_keys_workspace_id=route.own_keys_of,
    )
    _copy(created, row)
    session.add(row)
    if superseded is not None:
        await _expire(session, gateway, superseded)
        session.add(superseded)
    return created


def _use_up(session: Any, invoice: Invoice, attempt: int) -> None:
    """Stripe replayed a saved 5xx for this attempt's key: record the attempt as failed so the next uses a new
    key. A first 5xx is not enough: the session may exist, and only the same key finds it again."""
    assert invoice.id is not None
    session.add(
        CheckoutSession(
            invoice_id=invoice.id,
            attempt=attempt,
            stripe_session_id=f"failed:{create_key(invoice, attempt)}"[:255],
            amount_minor=invoice.balance_minor,
            currency=invoice.currency,
            status=CheckoutSessionStatus.failed,
        )
    )


def _reusable(snapshot: SessionSnapshot, invoice: Invoice) -> bool:
    time_left = (snapshot.expires_at - datetime.now(UTC)) if snapshot.expires_at else timedelta(hours=1)
    return (
        snapshot.status == CheckoutSessionStatus.open
        and snapshot.url is not None
        and snapshot.amount_total == invoice.balance_minor
        and snapshot.currency == invoice.currency
        and time_left > MIN_TIME_LEFT
    )


async def _expire(session: Any, gateway: StripeGateway, row: CheckoutSession) -> None:
    """Expire a superseded session (on the account it was made on) so the client cannot pay twice; one already
    closed on Stripe is fine."""
    try:
        on_its_account = await stripe_accounts.gateway_for(session, gateway, route_of_session(row))
        snapshot = await on_its_account.expire_session(
            row.stripe_session_id, idempotency_key=f"billflow:expire:{row.stripe_session_id}"
        )
        _copy(snapshot, row)
    except StripeRejected as err:
        log.info("superseded session %s not expired: %s", row.stripe_session_id, err)
        row.status = CheckoutSessionStatus.expired
    except StripeUnavailable as err:
        # The new session stands; the old one stays open here, so the reconciliation sweep still watches it
        # (if the client pays it anyway, the payment is recorded, never lost).
        log.warning("superseded session %s could not be expired now: %s", row.stripe_session_id, err)
    row.updated_at = utcnow()


async def _staff_notice(session: Any, invoice: Invoice, err: StripeRejected) -> None:
    """Stripe's own message on the invoice's timeline, so staff can fix the cause; once per message."""
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="payment.checkout_failed",
        message=f"Stripe refused the checkout session: {err}",
        data={"status": err.status or 0, "code": err.code or ""},
        key=f"checkout-failed:{invoice.id}:{invoice.balance_minor}:{err.code or err}"[:300],
    )


def _copy(snapshot: SessionSnapshot, row: CheckoutSession) -> None:
    """Copy Stripe's state onto our row; a complete or expired session never goes back to open."""
    if row.status == CheckoutSessionStatus.open or snapshot.status == CheckoutSessionStatus.complete:
        row.status = snapshot.status
    if row.payment_status not in ("paid", "failed"):
        row.payment_status = snapshot.payment_status
    row.url = snapshot.url or row.url
    row.payment_intent_id = snapshot.payment_intent_id or row.payment_intent_id
    row.expires_at = snapshot.expires_at or row.expires_at
    row.updated_at = utcnow()


class SessionOutcome(StrEnum):
    paid = "paid"  # payment delivered (signal, or direct record for a closed workflow)
    pending = "pending"  # complete but the money has not arrived (async payment methods)
    expired = "expired"
    failed = "failed"  # async payment failed
    open = "open"
    foreign = "foreign"  # not a billflow session


async def apply_session(
    db: Database,
    temporal: Client,
    snapshot: SessionSnapshot,
    *,
    received_at: datetime,
    source: str,
    failed: bool = False,
) -> SessionOutcome:
    """Bring our row in line with Stripe's session and deliver the payment when it is paid (idempotent)."""
    async with db.session() as session:
        row = await sessions_repo.get_session(session, stripe_session_id=snapshot.id, for_update=True)
        invoice_id = row.invoice_id if row is not None else _metadata_invoice_id(snapshot)
        if invoice_id is None:
            return SessionOutcome.foreign
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
        if invoice is None:
            return SessionOutcome.foreign
        already_failed = row is not None and row.payment_status == "failed"
        if row is not None:
            _copy(snapshot, row)
            if failed:
                row.payment_status = "failed"  # the client may open a new session and try again
            session.add(row)
        if failed:
            await timeline_repo.add_event(
                session,
                client_id=invoice.client_id,
                invoice_id=invoice.id,
                kind="payment.failed",
                message=f"The client's payment for checkout session {snapshot.id} failed ({source})",
                data={"session": snapshot.id},
                key=f"stripe:session-failed:{snapshot.id}",
            )
    if failed:
        # Reminders resume and the client is told (the workflow keys both by the session id).
        await _tell_workflow(
            temporal,
            invoice,
            PaymentFailed(provider=STRIPE_PROVIDER, provider_reference=snapshot.id, failed_at=received_at),
        )
        return SessionOutcome.failed
    if snapshot.status == CheckoutSessionStatus.expired:
        return SessionOutcome.expired
    if snapshot.status != CheckoutSessionStatus.complete:
        return SessionOutcome.open
    if snapshot.payment_status not in ("paid", "no_payment_required") or snapshot.amount_total <= 0:
        # An async method: the money is on its way (unless a later event already recorded it: out of order).
        if not already_failed and snapshot.amount_total > 0 and invoice.balance_minor > 0:
            await _tell_workflow(
                temporal,
                invoice,
                PaymentProcessing(provider=STRIPE_PROVIDER, provider_reference=snapshot.id, started_at=received_at),
            )
        return SessionOutcome.pending
    payment = PaymentReceived(
        provider=STRIPE_PROVIDER,
        provider_reference=snapshot.id,
        amount_minor=snapshot.amount_total,
        currency=snapshot.currency,
        received_at=received_at,
        method="card",
    )
    await deliver_payment(db, invoice=invoice, payment=payment, note=f"Stripe Checkout ({source})")
    return SessionOutcome.paid


async def _tell_workflow(temporal: Client, invoice: Invoice, item: PaymentProcessing | PaymentFailed) -> None:
    """Signal a payment in flight (or its failure); a closed workflow (paid, void) has nothing to hold."""
    try:
        await send_collection(temporal, invoice.workflow_id, item)
    except WorkflowClosed:
        log.info("workflow %s closed: %s for %s ignored", invoice.workflow_id, type(item).__name__, invoice.number)


def _metadata_invoice_id(snapshot: SessionSnapshot) -> int | None:
    raw = snapshot.metadata.get("billflow_invoice_id")
    return int(raw) if raw and raw.isdigit() else None


@dataclass(frozen=True)
class ReconcileReport:
    checked: int
    paid: int


async def reconcile_sessions(
    db: Database,
    temporal: Client,
    gateway: StripeGateway,
    *,
    older_than: timedelta = timedelta(minutes=5),
    limit: int = 200,
) -> ReconcileReport:
    """The path for missed webhooks: ask Stripe about every session still open here (older than
    `older_than`, so a webhook in flight gets its chance first) and record the paid ones.

    StripeUnavailable propagates (the activity retry policy runs the sweep again); a session Stripe no longer
    knows (4xx) is skipped.
    """
    async with db.session() as session:
        rows = await sessions_repo.sessions_to_reconcile(session, created_before=utcnow() - older_than, limit=limit)
    paid = 0
    for row in rows:
        try:
            async with db.session() as session:  # a workspace's own key is read at each use: rotation applies
                on_its_account = await stripe_accounts.gateway_for(session, gateway, route_of_session(row))
            snapshot = await on_its_account.retrieve_session(row.stripe_session_id)
        except StripeRejected as err:
            log.warning("reconcile: session %s skipped: %s", row.stripe_session_id, err)
            continue
        outcome = await apply_session(db, temporal, snapshot, received_at=utcnow(), source="reconciliation")
        paid += outcome is SessionOutcome.paid
    return ReconcileReport(checked=len(rows), paid=paid)
