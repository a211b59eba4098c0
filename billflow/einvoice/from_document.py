"""The issued document (billflow.services.documents.load_document) as the EN 16931 model, and its PDF.

One way from the database to every file: load_document gathers what was issued (seller and buyer as frozen at
issue, lines with their tax categories, the VAT breakdown computed per rate group, references), this adapter
maps it onto the EN 16931 model, and billflow.einvoice.files renders the Factur-X PDF and the XML formats
(stored once per document version by billflow.services.document_files).
"""

from __future__ import annotations

from decimal import Decimal

from billflow.einvoice.model import (
    Address,
    DocumentType,
    EInvoice,
    Line,
    Party,
    PaymentMeans,
    PaymentMeansCode,
    PrecedingInvoice,
    TaxCategory,
)
from models.documents import DocumentLine, InvoiceDocument, TaxBreakdown
from models.documents import Party as DocumentParty
from models.enums import InvoiceKind
from models.enums import TaxCategory as BillflowCategory

_CATEGORIES = {
    BillflowCategory.standard: TaxCategory.standard,
    BillflowCategory.zero: TaxCategory.zero,
    BillflowCategory.exempt: TaxCategory.exempt,
    BillflowCategory.reverse_charge: TaxCategory.reverse_charge,
}
# EAS code for an electronic address given as an email (BT-34 / BT-49 scheme).
_EMAIL_SCHEME = "EM"


def _party(party: DocumentParty, *, phone: str | None = None, default_country: str | None = None) -> Party:
    return Party(
        name=party.legal_name or party.name,
        trading_name=party.name if party.legal_name and party.legal_name != party.name else None,
        address=Address(
            line1=party.address.line1,
            postcode=party.address.postcode,
            city=party.address.city,
            country=(party.address.country or default_country or "").upper() or None,
        ),
        vat_id=party.vat_id,
        legal_registration_id=party.registration,
        email=party.email,
        phone=phone,
        contact_name=party.name if phone else None,
        endpoint_id=party.email,
        endpoint_scheme=_EMAIL_SCHEME if party.email else None,
    )


def _lines(lines: list[DocumentLine], breakdown: list[TaxBreakdown]) -> list[Line]:
    """Lines with their share of each group's VAT: EN 16931 computes VAT per rate group (the breakdown), so the
    group's amount is spread over its lines and the last line of a group takes the rounding remainder."""
    groups: dict[tuple[BillflowCategory, int], list[DocumentLine]] = {}
    for line in lines:
        groups.setdefault((line.tax.category, line.tax.rate_bp), []).append(line)
    tax_of: dict[int, int] = {}
    for row in breakdown:
        members = groups.get((row.category, row.rate_bp), [])
        taxable = sum(m.net_minor for m in members)
        left = row.tax_minor
        for index, member in enumerate(members):
            share = (
                left if index == len(members) - 1 else (row.tax_minor * member.net_minor // taxable if taxable else 0)
            )
            tax_of[member.position] = share
            left -= share
    return [
        Line(
            id=str(line.position),
            description=line.description,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            net_minor=line.net_minor,
            tax_minor=tax_of.get(line.position, 0),
            category=_CATEGORIES[line.tax.category],
            rate=Decimal(line.tax.rate_bp) / 100,
        )
        for line in lines
    ]


def einvoice_from_document(doc: InvoiceDocument, *, phone: str | None = None) -> EInvoice:
    if doc.document_type == "credit_note":
        type_code = DocumentType.credit_note
    elif doc.invoice_kind is InvoiceKind.deposit:
        type_code = DocumentType.prepayment
    else:
        type_code = DocumentType.invoice
    means: list[PaymentMeans] = []
    if doc.payment.iban and type_code is not DocumentType.credit_note:
        means.append(
            PaymentMeans(
                code=PaymentMeansCode.sepa_credit_transfer,
                iban=doc.payment.iban.replace(" ", ""),
                bic=doc.payment.bic,
                account_name=doc.seller.legal_name or doc.seller.name,
                remittance=doc.number,
            )
        )
    if doc.payment.card_url and not means and type_code is not DocumentType.credit_note:
        # CII allows one payment means code per document (CII-SR-467): the link is the means only without an IBAN.
        means.append(PaymentMeans(code=PaymentMeansCode.online, information=f"Pay online: {doc.payment.card_url}"))
    reasons = {_CATEGORIES[row.category]: row.exemption_reason for row in doc.tax_breakdown if row.exemption_reason}
    notes = list(doc.notes) + ([doc.reason] if doc.reason else [])
    return EInvoice(
        number=doc.number,
        type_code=type_code,
        issue_date=doc.issue_date,
        due_date=doc.due_date if type_code is not DocumentType.credit_note else None,
        currency=doc.currency,
        seller=_party(doc.seller, phone=phone),
        # A buyer without a billing country is taken to be domestic (the seller's country): BR-11 needs one.
        buyer=_party(doc.buyer, default_country=doc.seller.address.country),
        lines=_lines(doc.lines, doc.tax_breakdown),
        # Peppol needs a buyer or an order reference (PEPPOL-EN16931-R003): the document's own number.
        order_reference=doc.number,
        preceding=[
            PrecedingInvoice(number=ref.number, issue_date=ref.issue_date)
            for ref in doc.references  # the invoice a credit note corrects; the deposit a final invoice deducts
        ],
        delivery_date=doc.service_date or (None if doc.period_start else doc.issue_date),
        period_start=doc.period_start if doc.period_end else None,
        period_end=doc.period_end if doc.period_start else None,
        payment_means=means,
        payment_terms=doc.payment.terms,
        notes=notes,
        exemption_reasons=reasons,
    )
