"""Factories for EN 16931 documents of every kind billflow produces (no database needed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from billflow.einvoice.model import (
    Address,
    DocumentType,
    EInvoice,
    Line,
    PaymentMeans,
    PrecedingInvoice,
    TaxCategory,
)
from billflow.einvoice.model import Party as Party
from billflow.services.invoicing import price_line
from models.workflow_io import LineIn

# Settings of a complete business profile (BILLFLOW_BUSINESS_*), for documents built from the database.
BUSINESS = {
    "business_name": "Studio Łąka",
    "business_legal_name": "Studio Łąka GmbH",
    "business_address_line1": "Torstraße 5",
    "business_postcode": "10119",
    "business_city": "Berlin",
    "business_country": "DE",
    "business_vat_id": "DE136695976",
    "business_iban": "DE89 3704 0044 0532 0130 00",
    "business_bic": "COBADEFFXXX",
    "business_phone": "+49 30 1234567",
}


SELLER = Party(
    name="Atelier Łódź GmbH",
    address=Address(line1="Hauptstraße 1", postcode="10115", city="Berlin", country="DE"),
    vat_id="DE136695976",
    email="billing@atelier.example",
    phone="+49 30 1234567",
    contact_name="Zoë Kowalczyk",
    endpoint_id="billing@atelier.example",
    endpoint_scheme="EM",
)
BUYER = Party(
    name="Müller & Söhne KG",
    address=Address(line1="Ring 5", postcode="80331", city="München", country="DE"),
    email="ap@mueller.example",
    endpoint_id="ap@mueller.example",
    endpoint_scheme="EM",
)
EU_BUSINESS = BUYER.model_copy(
    update={
        "name": "Dupont Conseil SARL",
        "address": Address(line1="1 rue de la Paix", postcode="75002", city="Paris", country="FR"),
        "vat_id": "FR40303265045",
    }
)
JAPANESE_BUYER = BUYER.model_copy(
    update={
        "name": "山田太郎商店",
        "address": Address(line1="千代田1-1", postcode="100-0001", city="東京", country="JP"),
    }
)


def line(
    position: int,
    unit_price_minor: int,
    *,
    quantity: str = "1",
    rate: str = "19",
    category: TaxCategory = TaxCategory.standard,
    description: str = "Consulting",
) -> Line:
    """A line priced exactly as billflow prices it (quantity x price, then tax, each rounded half up)."""
    bp = int(Decimal(rate) * 100)
    priced = price_line(
        LineIn(description=description, quantity=Decimal(quantity), unit_price_minor=unit_price_minor, tax_rate_bp=bp)
    )
    return Line(
        id=str(position),
        description=description,
        quantity=Decimal(quantity),
        unit_price_minor=unit_price_minor,
        net_minor=priced.subtotal_minor,
        tax_minor=priced.tax_minor,
        category=category,
        rate=Decimal(rate),
    )


def make_document(**overrides: Any) -> EInvoice:
    fields: dict[str, Any] = {
        "number": "INV-2026-000001",
        "issue_date": date(2026, 12, 1),
        "due_date": date(2026, 12, 15),
        "delivery_date": date(2026, 11, 28),
        "currency": "EUR",
        "seller": SELLER,
        "buyer": BUYER,
        "buyer_reference": "04011000-12345-34",
        "lines": [line(1, 12_000, quantity="2.5", description="Strategy workshop (hours)")],
        "payment_means": [PaymentMeans(iban="DE89370400440532013000", bic="COBADEFFXXX", remittance="INV-2026-000001")],
        "payment_terms": "Payable within 14 days",
    }
    fields.update(overrides)
    return EInvoice(**fields)


def kinds() -> dict[str, EInvoice]:
    """Every document kind billflow produces, by name."""
    exempt = TaxCategory.exempt
    return {
        "invoice": make_document(),
        "several_rates": make_document(
            lines=[
                line(1, 15_000, description="Coaching session"),
                line(2, 2_499, rate="7", description="Workbook"),
                line(3, 990, quantity="3", rate="0", category=TaxCategory.zero, description="Printed matter (0 %)"),
            ]
        ),
        "credit_note": make_document(
            number="CN-2026-000001",
            type_code=DocumentType.credit_note,
            preceding=[PrecedingInvoice(number="INV-2026-000001", issue_date=date(2026, 12, 1))],
            notes=["Cancellation of invoice INV-2026-000001"],
        ),
        "partial_credit_note": make_document(
            number="CN-2026-000002",
            type_code=DocumentType.credit_note,
            preceding=[PrecedingInvoice(number="INV-2026-000001", issue_date=date(2026, 12, 1))],
            lines=[line(1, 5_000, description="Refund: one hour not delivered")],
        ),
        "deposit": make_document(
            number="INV-2026-000002",
            type_code=DocumentType.prepayment,
            lines=[line(1, 30_000, description="Deposit 30 % for the photo shoot on 2027-01-15")],
        ),
        "final_after_deposit": make_document(
            number="INV-2026-000003",
            lines=[line(1, 100_000, description="Photo shoot, full day")],
            preceding=[PrecedingInvoice(number="INV-2026-000002", issue_date=date(2026, 12, 1))],
            prepaid_minor=35_700,
            notes=["Deposit invoice INV-2026-000002 (357.00 EUR) deducted"],
        ),
        "reverse_charge": make_document(
            buyer=EU_BUSINESS,
            lines=[line(1, 80_000, rate="0", category=TaxCategory.reverse_charge, description="Design retainer")],
        ),
        "exempt": make_document(
            lines=[line(1, 9_000, rate="0", category=exempt, description="Therapy session (medical)")],
            exemption_reasons={exempt: "Steuerfrei nach § 4 Nr. 14 UStG"},
        ),
        "intra_community": make_document(
            buyer=EU_BUSINESS,
            deliver_to_country="FR",
            lines=[line(1, 4_200, rate="0", category=TaxCategory.intra_community, description="Licensed fonts")],
        ),
        "jpy": make_document(
            currency="JPY",
            buyer=JAPANESE_BUYER,
            lines=[
                line(1, 12_345, description="翻訳サービス", rate="10"),
                line(2, 999, quantity="3", description="資料", rate="8"),
            ],
        ),
        "jpy_credit_note": make_document(
            number="CN-2026-000003",
            currency="JPY",
            buyer=JAPANESE_BUYER,
            type_code=DocumentType.credit_note,
            preceding=[PrecedingInvoice(number="INV-2026-000004", issue_date=date(2026, 12, 1))],
            lines=[line(1, 12_345, description="翻訳サービス 取消", rate="10")],
        ),
        "jpy_deposit": make_document(
            number="INV-2026-000005",
            currency="JPY",
            buyer=JAPANESE_BUYER,
            type_code=DocumentType.prepayment,
            lines=[line(1, 50_000, description="着手金 30 %", rate="10")],
        ),
        "rounding": make_document(
            lines=[line(i, 3, quantity="1", description=f"Micro task {i}") for i in range(1, 11)]
            + [line(11, 333, quantity="0.333", description="A third of an item at 3.33"), line(12, 105, rate="7")]
        ),
        "gbp_zero_rated": make_document(
            currency="GBP",
            lines=[line(1, 7_500, rate="0", category=TaxCategory.zero, description="Children's books (£)")],
        ),
    }
