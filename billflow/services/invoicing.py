"""Issuing invoices, recording payments and status transitions, each in one transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import numbering as numbering_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.schedule import initial_due
from billflow.services.business_profile import BusinessProfile
from billflow.services.workspaces import seller_profile
from models import tax
from models.columns import utcnow
from models.documents import Party, TaxLine
from models.enums import InvoiceKind, InvoiceStatus, PaymentKind, TaxCategory
from models.invoices import Invoice, InvoiceLine
from models.money import price_amounts, round_minor
from models.workflow_io import BookingIn, InvoiceTransition, LineIn, PaymentOutcome, PaymentReceived


class InvoiceNotFound(LookupError):
    pass


@dataclass(frozen=True)
class LineAmounts:
    subtotal_minor: int
    tax_minor: int

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor


def price_line(line: LineIn) -> LineAmounts:
    """Quantity x unit price, then tax on the rounded subtotal, each rounded half up to a minor unit."""
    return LineAmounts(*price_amounts(line.quantity, line.unit_price_minor, line.tax_rate_bp))


@dataclass(frozen=True)
class PricedLine:
    description: str
    quantity: Decimal
    unit_price_minor: int
    tax: TaxLine
    net_minor: int

    @property
    def tax_minor(self) -> int:  # informative per line; the document's VAT comes from the breakdown
        return tax.tax_on(self.net_minor, self.tax.rate_bp)


def _priced(line: LineIn) -> PricedLine:
    net = tax.line_net(line.quantity, line.unit_price_minor)
    return PricedLine(line.description, line.quantity, line.unit_price_minor, line.tax_line, net)


def _deposit_lines(booking: BookingIn) -> list[PricedLine]:
    """The advance-payment invoice: the deposit's gross amount spread over the booking's VAT groups (the VAT on
    an advance payment is due at the rate of the supply it pays for), one line per group."""
    assert booking.deposit is not None
    rows = tax.breakdown((line.tax_line, tax.line_net(line.quantity, line.unit_price_minor)) for line in booking.lines)
    gross = tax.totals(rows)[2]
    share = booking.deposit.amount_minor
    label = f"Advance payment for booking {booking.booking_id}"
    if booking.deposit.percent_bp is not None:
        share = round_minor(Decimal(gross) * booking.deposit.percent_bp / 10_000)
        label = f"Advance payment ({Decimal(booking.deposit.percent_bp) / 100:g} %) for booking {booking.booking_id}"
    assert share is not None
    lines = []
    for line_tax, net in tax.split_gross(min(share, gross), rows):
        rate = f", {Decimal(line_tax.rate_bp) / 100:g} % VAT" if line_tax.rate_bp else ""
        lines.append(PricedLine(f"{label}{rate}", Decimal(1), net, line_tax, net))
    return lines


async def _deduction_lines(session: AsyncSession, *, deposit_key: str) -> tuple[Invoice | None, list[PricedLine]]:
    """The final invoice deducts the deposit invoice line by line (negative quantity, same VAT group), unless
    the deposit was cancelled by a credit note."""
    deposit = await invoices_repo.get_invoice(session, source_key=deposit_key)
    if deposit is None:
        raise ValueError(f"deposit_source_key: no deposit invoice {deposit_key!r}")
    assert deposit.id is not None
    if deposit.credited_minor >= deposit.total_minor:
        return deposit, []
    label = f"Less advance payment, invoice {deposit.number} of {deposit.issue_date.isoformat()}"
    lines = []
    for line in await invoices_repo.get_lines(session, invoice_id=deposit.id):
        line_tax = TaxLine(
            category=TaxCategory(line.tax_category), rate_bp=line.tax_rate_bp, exemption_reason=line.exemption_reason
        )
        lines.append(PricedLine(label, Decimal(-1), line.unit_price_minor, line_tax, -line.subtotal_minor))
    return deposit, lines


async def issue_invoice(
    session: AsyncSession,
    *,
    booking: BookingIn,
    workflow_id: str,
    profile: BusinessProfile | None = None,
    defer_number: bool = False,
    known_new: bool = False,
) -> Invoice:
    """Create the client (upsert), the invoice and its lines once per booking; a retry returns the first one.

    The seller (`profile`), the buyer and the VAT breakdown are written with it as they are now: an issued
    invoice never changes (a database trigger refuses edits of its content). The gap-free number is taken by
    the last statement (its counter row stays locked until commit); with `defer_number` the invoice comes back
    with a placeholder number and the caller calls `assign_number` as its own last statement before commit.
    """
    # `known_new`: the caller looked under the booking's lock already (intake), no second read.
    existing = None if known_new else await invoices_repo.get_invoice(session, source_key=booking.source_key)
    if existing is not None:
        if not defer_number:  # an intake that committed its invoice but not yet its number (it crashed between)
            await assign_number(session, existing)
        return existing
    if booking.issued_at is None:
        raise ValueError("issued_at must be fixed by the caller so that retries agree")
    client_id = await clients_repo.upsert_client(
        session,
        client=booking.client,
        source=booking.client_owner,
        actor=booking.requester,
        workspace_id=booking.workspace_id,
    )
    client = await clients_repo.get_client(session, client_id=client_id)
    assert client is not None
    if profile is not None:
        # The client's workspace is the seller (workspace 1 too): snapshotted on the invoice as it is now.
        workspace = await workspaces_repo.get_workspace(session, workspace_id=client.workspace_id)
        assert workspace is not None
        profile = seller_profile(workspace, email=workspace.reply_to or profile.party.email)
    tz = booking.client.timezone
    due_date, due_at = initial_due(booking.reminder_policy, tz, booking.issued_at, booking.payment_terms)
    issue_date = booking.issued_at.astimezone(ZoneInfo(tz)).date()
    kind = booking.document_kind
    priced = _deposit_lines(booking) if kind is InvoiceKind.deposit else [_priced(line) for line in booking.lines]
    deposit: Invoice | None = None
    if kind is InvoiceKind.final and booking.deposit_source_key:
        deposit, deductions = await _deduction_lines(session, deposit_key=booking.deposit_source_key)
        priced += deductions
    rows = tax.breakdown((p.tax, p.net_minor) for p in priced)
    net, vat, gross = tax.totals(rows)
    invoice = Invoice(
        workspace_id=client.workspace_id,
        number=f"{numbering_repo.PENDING_PREFIX}{secrets.token_hex(12)}",  # the real one is taken last
        source_key=booking.source_key,
        workflow_id=workflow_id,
        client_id=client_id,
        currency=booking.currency,
        subtotal_minor=net,
        tax_minor=vat,
        total_minor=gross,
        issue_date=issue_date,
        issued_at=booking.issued_at,
        due_date=due_date,
        due_at=due_at,
        timezone=tz,
        public_token=secrets.token_urlsafe(24),  # 192 bits: unguessable
        service_date=booking.service_date,
        period_start=booking.period_start,
        period_end=booking.period_end,
        subscription_id=booking.subscription_id,
        memo=booking.memo,
        kind=kind,
        seller=profile.party.model_dump(mode="json") if profile else {},
        buyer=Party.of_client(client).model_dump(mode="json"),
        tax_breakdown=[r.model_dump(mode="json") for r in rows],
        payment_means={"iban": profile.iban, "bic": profile.bic} if profile else {},
        deposit_invoice_id=deposit.id if deposit else None,
        # A deposit invoice keeps its booking: the final invoice is made from it (services/deposits.py).
        booking=booking.model_dump(mode="json", exclude={"issued_at"}) if kind is InvoiceKind.deposit else None,
        interest_terms=booking.late_interest.model_dump(mode="json") if booking.late_interest else None,
    )
    if invoice.total_minor == 0:
        invoice.status = InvoiceStatus.paid
        invoice.paid_at = booking.issued_at
    session.add(invoice)
    await session.flush()
    assert invoice.id is not None
    for position, line in enumerate(priced, start=1):
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                tax_rate_bp=line.tax.rate_bp,
                tax_category=line.tax.category,
                exemption_reason=line.tax.exemption_reason,
                subtotal_minor=line.net_minor,
                tax_minor=line.tax_minor,
                total_minor=line.net_minor + line.tax_minor,
            )
        )
    label = {InvoiceKind.deposit: "Deposit invoice", InvoiceKind.final: "Final invoice"}.get(kind, "Invoice")
    await timeline_repo.add_event(
        session,
        client_id=client_id,
        invoice_id=invoice.id,
        kind="invoice.issued",
        message=f"{label} {invoice.number} issued, due {due_date.isoformat()}"
        + (f" (deposit {deposit.number} deducted)" if deposit else ""),
        data={"number": invoice.number, "total_minor": invoice.total_minor, "currency": invoice.currency},
        key=f"{workflow_id}:issued",
    )
    await session.flush()
    if not defer_number:
        await assign_number(session, invoice)
    return invoice


async def assign_number(conn: AsyncSession | AsyncConnection, invoice: Invoice) -> str:
    """Give an invoice issued with `defer_number` its gap-free number (and its "issued" timeline entry too).

    In the issuing session it is the last statement before commit (the counter row stays locked until then);
    intake runs it on an autocommit connection right after its commit instead (billflow/services/intake.py). A
    no-op for an invoice that has its number; if another caller numbered it meanwhile, that number is read."""
    if not invoice.number.startswith(numbering_repo.PENDING_PREFIX):
        return invoice.number
    assert invoice.id is not None
    number = await numbering_repo.assign_invoice_number(
        conn,
        invoice_id=invoice.id,
        placeholder=invoice.number,
        workspace_id=invoice.workspace_id,
        year=invoice.issue_date.year,
        timeline_key=f"{invoice.workflow_id}:issued",
    )
    if number is None:  # numbered by another caller (a concurrent replay, the run's record_invoice)
        number = await invoices_repo.number_of(conn, invoice_id=invoice.id)
    set_committed_value(invoice, "number", number)  # written by the statement: nothing left for a flush
    return number


def settled_status(invoice: Invoice) -> InvoiceStatus:
    """The status implied by the amounts, keeping void and uncollectible unless the balance is settled."""
    current = InvoiceStatus(invoice.status)
    if current is InvoiceStatus.void:
        return current  # money on a void invoice is recorded and flagged, the invoice stays void
    if invoice.balance_minor <= 0:
        return InvoiceStatus.paid
    if current in (InvoiceStatus.uncollectible, InvoiceStatus.processing, InvoiceStatus.disputed):
        return current  # a part payment while a payment is in flight or disputed keeps the hold's status
    if invoice.overdue_at is not None:
        return InvoiceStatus.overdue
    return InvoiceStatus.partially_paid if invoice.amount_paid_minor > 0 else InvoiceStatus.open


async def record_payment(
    session: AsyncSession,
    *,
    invoice_id: int,
    payment: PaymentReceived,
    kind: PaymentKind = PaymentKind.payment,
    note: str | None = None,
    refund_of_payment_id: int | None = None,
) -> PaymentOutcome:
    """Record a payment (or refund) once per provider reference and settle the invoice's status.

    Works whether or not the invoice's workflow is still running: a late payment is never lost.
    """
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id, for_update=True)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")

    def outcome(recorded: bool, rejected: str | None = None) -> PaymentOutcome:
        return PaymentOutcome(
            recorded=recorded,
            rejected_reason=rejected,
            status=InvoiceStatus(invoice.status),
            amount_paid_minor=invoice.amount_paid_minor,
            total_minor=invoice.total_minor,
            credited_minor=invoice.credited_minor,
        )

    if payment.currency != invoice.currency:
        return outcome(False, f"payment currency {payment.currency} differs from invoice currency {invoice.currency}")
    is_new = await payments_repo.insert_payment_once(
        session,
        invoice_id=invoice_id,
        client_id=invoice.client_id,
        kind=kind,
        provider=payment.provider,
        reference=payment.provider_reference,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        method=payment.method,
        received_at=payment.received_at,
        note=note,
        refund_of_payment_id=refund_of_payment_id,
    )
    if not is_new:
        return outcome(False)
    signed = payment.amount_minor if kind is PaymentKind.payment else -payment.amount_minor
    invoice.amount_paid_minor += signed
    before = invoice.status
    invoice.status = settled_status(invoice)
    if invoice.status == InvoiceStatus.paid and before != InvoiceStatus.paid:
        invoice.paid_at = payment.received_at
    elif invoice.status != InvoiceStatus.paid:
        invoice.paid_at = None
    invoice.updated_at = utcnow()
    session.add(invoice)
    verb = "received" if kind is PaymentKind.payment else "refunded"
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind=f"payment.{verb}",
        message=f"{payment.amount_minor} {payment.currency} {verb} via {payment.provider} ({payment.method})",
        data={
            "provider": payment.provider,
            "reference": payment.provider_reference,
            "amount_minor": payment.amount_minor,
            "status": invoice.status,
            "flag": "refund_decision" if invoice.status == InvoiceStatus.void else "",
        },
        key=f"payment:{payment.provider}:{payment.provider_reference}",
    )
    await session.flush()
    return outcome(True)


async def settlement(session: AsyncSession, *, invoice_id: int) -> PaymentOutcome:
    """The invoice's payment state as committed (what a run adopts after a payment recorded outside it)."""
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
    return PaymentOutcome(
        recorded=True,
        status=InvoiceStatus(invoice.status),
        amount_paid_minor=invoice.amount_paid_minor,
        total_minor=invoice.total_minor,
        credited_minor=invoice.credited_minor,
    )


# kind -> the status it moves the invoice to (None: status unchanged)
_TRANSITION_STATUS: dict[str, InvoiceStatus | None] = {
    "overdue": InvoiceStatus.overdue,
    "void": InvoiceStatus.void,
    "write_off": InvoiceStatus.uncollectible,
    "paused": None,
    "resumed": None,
    "due_date_extended": None,
    "escalated": None,
    "rejected": None,
    "email_unknown": None,
    "email_failed": None,
    # Collections (issue 16): holds set a status, releases recompute it from the amounts and due date.
    "processing": InvoiceStatus.processing,
    "disputed": InvoiceStatus.disputed,
    "promised": None,
    "processing_noted": None,
    "answer_recorded": None,
    "payment_failed_noted": None,
}
# Ends of a hold: the status goes back to what the amounts and the due date say.
_RELEASES = {"hold_ended", "promise_broken", "dispute_resolved", "payment_failed"}


async def apply_transition(session: AsyncSession, *, change: InvoiceTransition) -> InvoiceStatus:
    """Apply a status or setting change with its timeline event; a repeated event key changes nothing."""
    invoice = await invoices_repo.get_invoice(session, invoice_id=change.invoice_id, for_update=True)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {change.invoice_id} does not exist")
    if await timeline_repo.event_exists(session, key=change.event_key):
        return InvoiceStatus(invoice.status)
    now = utcnow()
    _apply_fields(invoice, change, now)
    target = _TRANSITION_STATUS.get(change.kind)
    if change.kind in _RELEASES:
        if InvoiceStatus(invoice.status).is_on_hold:
            invoice.status = InvoiceStatus.open  # settled_status keeps a hold's status: start from open
            invoice.status = settled_status(invoice)
    elif target is InvoiceStatus.processing and invoice.balance_minor <= 0:
        pass  # a payment recorded first (facts first, its signal behind this one) settled it: nothing in flight
    elif target is not None:
        invoice.status = target
    elif change.kind == "due_date_extended":
        invoice.status = settled_status(invoice)
    invoice.updated_at = now
    session.add(invoice)
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind=f"invoice.{change.kind}",
        message=change.message,
        data=dict(change.data),
        key=change.event_key,
    )
    await session.flush()
    return InvoiceStatus(invoice.status)


def _apply_fields(invoice: Invoice, change: InvoiceTransition, now: datetime) -> None:
    match change.kind:
        case "overdue":
            invoice.overdue_at = now
        case "void":
            invoice.voided_at = now
        case "write_off":
            invoice.written_off_at = now
        case "paused":
            invoice.reminders_paused, invoice.paused_until = True, change.paused_until
        case "resumed":
            invoice.reminders_paused, invoice.paused_until = False, None
        case "due_date_extended":
            assert change.due_date is not None and change.due_at is not None
            invoice.due_date, invoice.due_at = change.due_date, change.due_at
            if change.due_at > now:
                invoice.overdue_at = None  # no longer past due
        case "escalated":
            invoice.escalated_at = now
