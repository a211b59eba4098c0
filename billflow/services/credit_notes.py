"""Credit notes: the one way an issued invoice's amount goes down (VAT Directive art. 219: a correction is a
document that references the invoice, never an edit of it). Each is issued once per idempotency key, in the
transaction of whatever caused it (a void, a refund, a staff correction)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import numbering as numbering_repo
from billflow.repositories import timeline as timeline_repo
from models import tax
from models.columns import utcnow
from models.credit_notes import CreditNote, CreditNoteLine
from models.documents import TaxBreakdown, TaxLine
from models.enums import CreditNoteKind, InvoiceStatus
from models.invoices import Invoice
from models.money import format_money
from models.numbering import DocumentType
from models.workflow_io import InvoiceTransition


class CreditNoteSummary(BaseModel):
    number: str
    invoice_number: str
    kind: CreditNoteKind
    reason: str
    currency: str
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    issue_date: date
    refund_reference: str | None = None

    @classmethod
    def of(cls, note: CreditNote, invoice: Invoice) -> CreditNoteSummary:
        return cls(
            number=note.number,
            invoice_number=invoice.number,
            kind=CreditNoteKind(note.kind),
            reason=note.reason,
            currency=note.currency,
            subtotal_minor=note.subtotal_minor,
            tax_minor=note.tax_minor,
            total_minor=note.total_minor,
            issue_date=note.issue_date,
            refund_reference=note.refund_reference,
        )


async def list_credit_notes(
    session: AsyncSession,
    *,
    invoice_number: str | None = None,
    limit: int = 50,
    offset: int = 0,
    workspace_id: int | None = None,
) -> list[CreditNoteSummary]:
    """`workspace_id`: only that workspace's credit notes (an API key's); None: every workspace's."""
    invoice_id = None
    if invoice_number is not None:
        invoice = await invoices_repo.get_invoice(session, number=invoice_number)
        if invoice is None:
            return []
        invoice_id = invoice.id
    rows = await credit_notes_repo.list_credit_notes(
        session, invoice_id=invoice_id, limit=limit, offset=offset, workspace_id=workspace_id
    )
    return [CreditNoteSummary.of(note, invoice) for note, invoice in rows]


class CreditNoteRefused(ValueError):
    """The credit note cannot be issued; the message names the field and the rule."""


_LABELS = {
    CreditNoteKind.cancellation: "Cancellation",
    CreditNoteKind.partial: "Correction",
    CreditNoteKind.refund: "Refund",
}


def creditable_minor(invoice: Invoice) -> int:
    """What credit notes can still take off the invoice."""
    return invoice.total_minor - invoice.credited_minor


def refund_credit_minor(invoice: Invoice, refund_minor: int) -> int:
    """The part of a refund that reduces the price: money returned beyond an overpayment. A refund of a double
    payment corrects no price, so it needs no credit note."""
    overpaid = max(0, invoice.amount_paid_minor + invoice.credited_minor - invoice.total_minor)
    return max(0, min(refund_minor - overpaid, creditable_minor(invoice)))


async def issue_credit_note(
    session: AsyncSession,
    *,
    invoice_id: int,
    kind: CreditNoteKind,
    reason: str,
    key: str,
    amount_minor: int | None = None,
    refund_reference: str | None = None,
    issued_at: datetime | None = None,
) -> CreditNote | None:
    """Issue a credit note of `amount_minor` gross (None: all that is still creditable) against the invoice.

    Returns the credit note issued earlier under the same key, or None when nothing is left to credit on a
    cancellation. A partial amount is spread over the invoice's VAT groups in proportion (each group keeps
    its category, rate and exemption reason), so the credit note corrects the tax it charged.
    """
    existing = await credit_notes_repo.get_credit_note(session, idempotency_key=key)
    if existing is not None:
        return existing
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id, for_update=True)
    if invoice is None:
        raise CreditNoteRefused(f"invoice {invoice_id} does not exist")
    assert invoice.id is not None
    remaining = creditable_minor(invoice)
    if amount_minor is None:
        if remaining <= 0:
            return None
        amount_minor = remaining
    if amount_minor <= 0:
        raise CreditNoteRefused("amount_minor: a credit note must be above 0")
    if amount_minor > remaining:
        raise CreditNoteRefused(
            f"amount_minor: at most {remaining} ({format_money(remaining, invoice.currency)}) of invoice "
            f"{invoice.number} can still be credited"
        )
    rows = [TaxBreakdown.model_validate(r) for r in invoice.tax_breakdown]
    if amount_minor == remaining and invoice.credited_minor == 0:  # the whole invoice: its own groups
        groups = [
            (TaxLine(category=r.category, rate_bp=r.rate_bp, exemption_reason=r.exemption_reason), r.taxable_minor)
            for r in rows
        ]
    else:
        groups = tax.split_gross(amount_minor, rows)
    groups = _within(groups, limit=remaining)
    cn_rows = tax.breakdown(groups)
    net, vat, gross = tax.totals(cn_rows)
    when = issued_at or utcnow()
    issue_date = when.astimezone(ZoneInfo(invoice.timezone)).date()
    label = _LABELS[kind]
    note = CreditNote(
        number=await numbering_repo.next_number(
            session, workspace_id=invoice.workspace_id, document_type=DocumentType.credit_note, year=issue_date.year
        ),
        idempotency_key=key,
        invoice_id=invoice.id,
        client_id=invoice.client_id,
        kind=kind,
        reason=reason[:500],
        currency=invoice.currency,
        subtotal_minor=net,
        tax_minor=vat,
        total_minor=gross,
        tax_breakdown=[r.model_dump(mode="json") for r in cn_rows],
        seller=invoice.seller,
        buyer=invoice.buyer,
        issue_date=issue_date,
        issued_at=when,
        refund_reference=refund_reference,
    )
    session.add(note)
    await session.flush()
    assert note.id is not None
    for position, (line_tax, line_net) in enumerate(groups, start=1):
        session.add(
            CreditNoteLine(
                credit_note_id=note.id,
                position=position,
                description=f"{label} of invoice {invoice.number} of {invoice.issue_date.isoformat()}",
                quantity=Decimal(1),
                unit_price_minor=line_net,
                tax_rate_bp=line_tax.rate_bp,
                tax_category=line_tax.category,
                exemption_reason=line_tax.exemption_reason,
                subtotal_minor=line_net,
            )
        )
    invoice.credited_minor += gross
    if kind is not CreditNoteKind.cancellation:
        from billflow.services.invoicing import settled_status  # one status rule for payments and credits

        before = invoice.status
        invoice.status = settled_status(invoice)
        if invoice.status == InvoiceStatus.paid and before != InvoiceStatus.paid:
            invoice.paid_at = when
    invoice.updated_at = utcnow()
    session.add(invoice)
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="credit_note.issued",
        message=f"Credit note {note.number} ({kind.value}) for invoice {invoice.number}: "
        f"{format_money(gross, invoice.currency)} - {reason}",
        data={"number": note.number, "kind": kind.value, "total_minor": gross, "invoice": invoice.number},
        key=f"credit-note:{key}",
    )
    await session.flush()
    return note


def _within(groups: list[tuple[TaxLine, int]], *, limit: int) -> list[tuple[TaxLine, int]]:
    """Rounding per VAT group can overshoot the creditable amount by a minor unit: take it off the largest."""
    groups = list(groups)
    while groups and tax.totals(tax.breakdown(groups))[2] > limit:
        i = max(range(len(groups)), key=lambda k: groups[k][1])
        groups[i] = (groups[i][0], groups[i][1] - 1)
    return [g for g in groups if g[1] > 0]


async def cancel_invoice(session: AsyncSession, *, invoice_id: int, change: InvoiceTransition) -> CreditNote | None:
    """The cancellation credit note of a void: everything not yet credited, keyed by the void's event."""
    return await issue_credit_note(
        session,
        invoice_id=invoice_id,
        kind=CreditNoteKind.cancellation,
        reason=change.message or "Invoice voided",
        key=f"void:{change.event_key}",
    )
