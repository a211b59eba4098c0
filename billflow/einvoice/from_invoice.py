"""The one adapter from billflow's invoice rows to the EN 16931 model.

Reads what the database has today (invoice, lines, client) plus the business profile settings. Fields that
issue 14's data side adds (buyer address and VAT id, line tax categories, deposits, credit notes) are read with
getattr so they flow in once their columns exist; the lead connects this adapter to
billflow.services.documents.load_document at merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from billflow.config import Settings
from billflow.einvoice.model import (
    Address,
    EInvoice,
    Line,
    Party,
    PaymentMeans,
    PaymentMeansCode,
    TaxCategory,
)
from models.clients import Client
from models.invoices import Invoice, InvoiceLine

# EAS code for an electronic address given as an email (BT-34 / BT-49 scheme).
_EMAIL_SCHEME = "EM"


def seller_from_settings(settings: Settings) -> Party:
    legal = settings.business_legal_name or settings.business_name
    return Party(
        name=legal,
        trading_name=settings.business_name if settings.business_name != legal else None,
        address=Address(
            line1=settings.business_address_line1,
            postcode=settings.business_postcode,
            city=settings.business_city,
            country=(settings.business_country or "").upper() or None,
        ),
        vat_id=settings.business_vat_id,
        legal_registration_id=settings.business_registration,
        email=settings.from_email,
        phone=settings.business_phone,
        contact_name=settings.business_name,
        endpoint_id=settings.from_email,
        endpoint_scheme=_EMAIL_SCHEME,
    )


def _buyer(client: Client, seller_country: str | None) -> Party:
    def field(name: str) -> Any:
        return getattr(client, name, None)

    return Party(
        name=client.name,
        address=Address(
            line1=field("address_line1"),
            postcode=field("postcode"),
            city=field("city"),
            # Until clients carry a billing country the buyer is taken to be domestic (the seller's country).
            country=(field("country") or seller_country or "").upper() or None,
        ),
        vat_id=field("vat_id"),
        email=client.email,
        endpoint_id=client.email,
        endpoint_scheme=_EMAIL_SCHEME,
    )


def _category(line: InvoiceLine) -> TaxCategory:
    named = getattr(line, "tax_category", None)
    if named:
        return TaxCategory[str(named)] if str(named) in TaxCategory.__members__ else TaxCategory(str(named))
    return TaxCategory.standard if line.tax_rate_bp > 0 else TaxCategory.zero


def einvoice_from_invoice(
    *, invoice: Invoice, client: Client, lines: Sequence[InvoiceLine], settings: Settings, pay_url: str | None = None
) -> EInvoice:
    seller = seller_from_settings(settings)
    means: list[PaymentMeans] = []
    if settings.business_iban:
        means.append(
            PaymentMeans(
                code=PaymentMeansCode.sepa_credit_transfer,
                iban=settings.business_iban.replace(" ", ""),
                bic=settings.business_bic,
                account_name=seller.name,
                remittance=invoice.number,
            )
        )
    if pay_url and not means:
        # CII allows one payment means code per document (CII-SR-467): the link is the means only without an IBAN.
        means.append(PaymentMeans(code=PaymentMeansCode.online, information=f"Pay online: {pay_url}"))
    terms = f"Payable by {invoice.due_date.isoformat()}" + (f"; pay online at {pay_url}" if pay_url else "")
    return EInvoice(
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        seller=seller,
        buyer=_buyer(client, seller.address.country),
        lines=[
            Line(
                id=str(line.position),
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price_minor=line.unit_price_minor,
                net_minor=line.subtotal_minor,
                tax_minor=line.tax_minor,
                category=_category(line),
                rate=Decimal(line.tax_rate_bp) / 100,
            )
            for line in sorted(lines, key=lambda item: item.position)
        ],
        buyer_reference=getattr(client, "buyer_reference", None),
        # The booking the invoice came from: Peppol needs a buyer or an order reference (PEPPOL-EN16931-R003).
        order_reference=invoice.source_key[:100],
        delivery_date=invoice.service_date or (None if invoice.period_start else invoice.issue_date),
        period_start=invoice.period_start if invoice.period_end else None,
        period_end=invoice.period_end if invoice.period_start else None,
        payment_means=means,
        payment_terms=terms,
        notes=[invoice.memo] if invoice.memo else [],
    )
