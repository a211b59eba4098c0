"""The adapter from issue 14's frozen document (`models.documents.InvoiceDocument`, built by
`billflow.services.documents.load_document`) to the EN 16931 model. Duck-typed on purpose: it is written
beside that model's branch and connected at merge (billflow.services.document_files.build_document).

The document's VAT breakdown is authoritative (it was frozen at issue): each group's VAT is carried by the first
line of its group, which is where the EN 16931 model sums it from; line VAT appears in no output.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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

_EMAIL_SCHEME = "EM"  # EAS code of an electronic address given as an email (BT-34 / BT-49)


def _party(party: Any) -> Party:
    legal = party.legal_name or party.name
    address = party.address
    return Party(
        name=legal,
        trading_name=party.name if party.name != legal else None,
        address=Address(line1=address.line1, postcode=address.postcode, city=address.city, country=address.country),
        vat_id=party.vat_id,
        legal_registration_id=party.registration,
        email=party.email,
        contact_name=party.name,
        endpoint_id=party.email,
        endpoint_scheme=_EMAIL_SCHEME if party.email else None,
    )


def _category(tax: Any) -> TaxCategory:
    category = tax.category
    return TaxCategory(category.code if hasattr(category, "code") else str(category))


def einvoice_from_document(
    document: Any, *, buyer_reference: str | None = None, order_reference: str | None = None
) -> EInvoice:
    """`document` is a models.documents.InvoiceDocument."""
    type_code = DocumentType(document.type_code)
    group_tax = {(_category(row), int(row.rate_bp)): int(row.tax_minor) for row in document.tax_breakdown}
    reasons = {_category(row): row.exemption_reason for row in document.tax_breakdown if row.exemption_reason}
    lines = []
    for line in sorted(document.lines, key=lambda item: item.position):
        key = (_category(line.tax), int(line.tax.rate_bp))
        lines.append(
            Line(
                id=str(line.position),
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price_minor=line.unit_price_minor,
                net_minor=line.net_minor,
                tax_minor=group_tax.pop(key, 0),  # the group's VAT on its first line
                category=key[0],
                rate=Decimal(key[1]) / 100,
            )
        )
    payment = document.payment
    means = []
    if payment.iban:
        means.append(
            PaymentMeans(
                code=PaymentMeansCode.sepa_credit_transfer,
                iban=payment.iban.replace(" ", ""),
                bic=payment.bic,
                account_name=document.seller.legal_name or document.seller.name,
                remittance=document.number,
            )
        )
    elif payment.card_url:  # one payment means code per document (CII-SR-467)
        means.append(PaymentMeans(code=PaymentMeansCode.online, information=f"Pay online: {payment.card_url}"))
    terms = payment.terms
    if payment.card_url:
        terms = "; ".join(filter(None, [terms, f"pay online at {payment.card_url}"]))
    notes = list(document.notes) + ([document.reason] if document.reason else [])
    return EInvoice(
        number=document.number,
        type_code=type_code,
        issue_date=document.issue_date,
        due_date=document.due_date,
        currency=document.currency,
        seller=_party(document.seller),
        buyer=_party(document.buyer),
        lines=lines,
        buyer_reference=buyer_reference,
        order_reference=order_reference,
        preceding=[PrecedingInvoice(number=ref.number, issue_date=ref.issue_date) for ref in document.references],
        delivery_date=document.service_date if not document.period_start else None,
        period_start=document.period_start if document.period_end else None,
        period_end=document.period_end if document.period_start else None,
        payment_means=means,
        payment_terms=terms,
        # The final invoice deducts its deposit as negative-quantity lines (their VAT goes back per rate), so
        # nothing is prepaid (BT-113) on top; later payments are not part of the document either.
        notes=notes,
        exemption_reasons=reasons,
    )
