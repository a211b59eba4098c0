"""An issued document's InvoiceDocument from its stored rows, without a database: the rows are the ORM's models
(billflow/services/documents.py, `load_document`) or the CLI's psycopg rows with the same attribute names
(starter/reads/credit_notes.py: `billflow credit-note show` without SQLAlchemy, issue 11 item 15). One builder,
so both say the same."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from billflow.services.business_profile import current_business_profile
from models import tax
from models.documents import (
    REVERSE_CHARGE_NOTE,
    DocumentLine,
    DocumentReference,
    InvoiceDocument,
    Party,
    PaymentMeans,
    TaxBreakdown,
    TaxLine,
)
from models.enums import CreditNoteKind, InvoiceKind, TaxCategory

if TYPE_CHECKING:  # the table models (SQLAlchemy) only name the rows' attributes here
    from billflow.config import Settings
    from models.clients import Client
    from models.credit_notes import CreditNote, CreditNoteLine
    from models.invoices import Invoice, InvoiceLine


def invoice_document(
    invoice: Invoice,
    client: Client,
    lines: Sequence[InvoiceLine],
    *,
    settings: Settings,
    deposit: Invoice | None = None,
    credit_notes: Sequence[CreditNote] = (),
) -> InvoiceDocument:
    doc_lines = [
        _line(line.position, line.description, line.quantity, line.unit_price_minor, line.subtotal_minor, line)
        for line in lines
    ]
    rows = _breakdown(invoice.tax_breakdown, doc_lines)
    net, vat, gross = tax.totals(rows)
    kind = InvoiceKind(invoice.kind) if invoice.kind else InvoiceKind.invoice
    notes = _tax_notes(rows)
    references = []
    if kind is InvoiceKind.deposit:
        notes.insert(0, "Advance payment invoice: the final invoice will deduct this amount.")
    if deposit is not None:
        deducted = -sum(line.net_minor for line in doc_lines if line.quantity < 0)
        notes.insert(0, f"Advance payment invoice {deposit.number} of {deposit.issue_date.isoformat()} deducted.")
        references.append(
            DocumentReference(
                kind="deposit", number=deposit.number, issue_date=deposit.issue_date, amount_minor=deducted
            )
        )
    for note in credit_notes:
        notes.append(f"Credit note {note.number} of {note.issue_date.isoformat()} issued against this invoice.")
    if invoice.memo:
        notes.append(invoice.memo)
    base = settings.public_base_url.rstrip("/")
    terms_days = (invoice.due_date - invoice.issue_date).days
    return InvoiceDocument(
        document_type="invoice",
        invoice_kind=kind,
        number=invoice.number,
        issue_date=invoice.issue_date,
        issued_at=invoice.issued_at,
        currency=invoice.currency,
        seller=_seller(invoice.seller, settings),
        buyer=_buyer(invoice.buyer, client),
        lines=doc_lines,
        tax_breakdown=rows,
        net_minor=net,
        tax_minor=vat,
        total_minor=gross,
        paid_minor=invoice.amount_paid_minor,
        credited_minor=invoice.credited_minor,
        due_minor=max(invoice.balance_minor, 0),
        due_date=invoice.due_date,
        service_date=invoice.service_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        payment=_payment(
            invoice.payment_means,
            settings,
            card_url=invoice.payment_url or f"{base}/pay/{invoice.public_token}",
            terms=f"Payable within {terms_days} days, by {invoice.due_date.isoformat()}"
            if terms_days > 0
            else f"Payable on receipt, by {invoice.due_date.isoformat()}",
        ),
        notes=notes,
        references=references,
        status=invoice.status,
        public_url=f"{base}/i/{invoice.public_token}",
    )


def credit_note_document(
    note: CreditNote, lines: Sequence[CreditNoteLine], *, invoice: Invoice, client: Client, settings: Settings
) -> InvoiceDocument:
    doc_lines = [
        _line(line.position, line.description, line.quantity, line.unit_price_minor, line.subtotal_minor, line)
        for line in lines
    ]
    rows = _breakdown(note.tax_breakdown, doc_lines)
    net, vat, gross = tax.totals(rows)
    kind = CreditNoteKind(note.kind)
    notes = [f"Credit note for invoice {invoice.number} of {invoice.issue_date.isoformat()}: {note.reason}"]
    if kind is CreditNoteKind.cancellation:
        notes[0] = f"Cancels invoice {invoice.number} of {invoice.issue_date.isoformat()}: {note.reason}"
    notes += _tax_notes(rows)
    return InvoiceDocument(
        document_type="credit_note",
        credit_note_kind=kind,
        number=note.number,
        issue_date=note.issue_date,
        issued_at=note.issued_at,
        currency=note.currency,
        seller=_seller(note.seller or invoice.seller, settings),
        buyer=_buyer(note.buyer or invoice.buyer, client),
        lines=doc_lines,
        tax_breakdown=rows,
        net_minor=net,
        tax_minor=vat,
        total_minor=gross,
        service_date=invoice.service_date or invoice.issue_date,  # the supply it corrects
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        payment=_payment(invoice.payment_means, settings),
        notes=notes,
        references=[
            DocumentReference(
                kind="invoice", number=invoice.number, issue_date=invoice.issue_date, amount_minor=invoice.total_minor
            )
        ],
        reason=note.reason,
    )


def _line(
    position: int,
    description: str,
    quantity: Decimal,
    unit_price_minor: int,
    net_minor: int,
    row: InvoiceLine | CreditNoteLine,
) -> DocumentLine:
    category = TaxCategory(row.tax_category) if row.tax_category else TaxCategory.standard
    return DocumentLine(
        position=position,
        description=description,
        quantity=Decimal(quantity),
        unit_price_minor=unit_price_minor,
        net_minor=net_minor,
        tax=TaxLine(category=category, rate_bp=row.tax_rate_bp, exemption_reason=row.exemption_reason),
    )


def _breakdown(stored: list[dict[str, object]], lines: list[DocumentLine]) -> list[TaxBreakdown]:
    """As written at issue; documents from before the breakdown was stored are computed from their lines."""
    if stored:
        return [TaxBreakdown.model_validate(r) for r in stored]
    return tax.breakdown((line.tax, line.net_minor) for line in lines)


def _tax_notes(rows: Sequence[TaxBreakdown]) -> list[str]:
    notes = []
    for row in rows:
        if row.category is TaxCategory.reverse_charge:
            notes.append(REVERSE_CHARGE_NOTE)
        elif row.category is TaxCategory.exempt and row.exemption_reason:
            notes.append(f"VAT exempt: {row.exemption_reason}")
    return list(dict.fromkeys(notes))


def _seller(snapshot: dict[str, object], settings: Settings) -> Party:
    if snapshot:
        return Party.model_validate(snapshot)
    return current_business_profile(settings).party  # issued before snapshots existed


def _buyer(snapshot: dict[str, object], client: Client) -> Party:
    return Party.model_validate(snapshot) if snapshot else Party.of_client(client)


def _payment(
    stored: dict[str, object], settings: Settings, *, card_url: str | None = None, terms: str | None = None
) -> PaymentMeans:
    if stored:
        return PaymentMeans(
            iban=str(stored.get("iban") or "") or None,
            bic=str(stored.get("bic") or "") or None,
            card_url=card_url,
            terms=terms,
        )
    return current_business_profile(settings).payment_means(card_url=card_url, terms=terms)
