"""The adapter from issue 14's InvoiceDocument: every kind it makes is valid CII and UBL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

documents = pytest.importorskip("models.documents")  # issue 14's document model (another branch until merged)

from billflow.einvoice.cii import build_cii  # noqa: E402
from billflow.einvoice.from_document import einvoice_from_document  # noqa: E402
from billflow.einvoice.ubl import build_ubl  # noqa: E402
from billflow.einvoice.validation import validate_cii, validate_ubl  # noqa: E402
from models.enums import InvoiceKind, TaxCategory  # noqa: E402

SELLER = documents.Party(
    name="Studio Łąka",
    legal_name="Studio Łąka GmbH",
    email="billing@studio.example",
    vat_id="DE136695976",
    address=documents.PostalAddress(line1="Torstraße 5", postcode="10119", city="Berlin", country="DE"),
)
BUYER = documents.Party(
    name="Dupont SARL",
    email="ap@dupont.example",
    vat_id="FR40303265045",
    address=documents.PostalAddress(line1="1 rue de la Paix", postcode="75002", city="Paris", country="FR"),
)


def _line(position, net, rate_bp=1900, quantity="1", category=TaxCategory.standard):
    q = Decimal(quantity)
    return documents.DocumentLine(
        position=position,
        description=f"Line {position}",
        quantity=q,
        unit_price_minor=abs(int(net / q)),
        net_minor=net,
        tax=documents.TaxLine(category=category, rate_bp=rate_bp),
    )


def _doc(lines, breakdown, **extra):
    net = sum(r.taxable_minor for r in breakdown)
    vat = sum(r.tax_minor for r in breakdown)
    values = dict(
        document_type="invoice",
        number="INV-2026-000007",
        issue_date=date(2026, 12, 1),
        issued_at=datetime(2026, 12, 1, tzinfo=UTC),
        currency="EUR",
        seller=SELLER,
        buyer=BUYER,
        lines=lines,
        tax_breakdown=breakdown,
        net_minor=net,
        tax_minor=vat,
        total_minor=net + vat,
        due_date=date(2026, 12, 15),
        service_date=date(2026, 11, 30),
        payment=documents.PaymentMeans(
            iban="DE89370400440532013000",
            bic="COBADEFFXXX",
            card_url="https://x.example/pay/t",
            terms="Payable within 14 days",
        ),
    )
    values.update(extra)
    return documents.InvoiceDocument(**values)


def _row(category, rate_bp, taxable, tax, reason=None):
    return documents.TaxBreakdown(
        category=category, rate_bp=rate_bp, taxable_minor=taxable, tax_minor=tax, exemption_reason=reason
    )


KINDS = {
    "invoice": _doc(
        [_line(1, 10_000), _line(2, 2_000, 700)],
        [_row(TaxCategory.standard, 700, 2_000, 140), _row(TaxCategory.standard, 1900, 10_000, 1_900)],
    ),
    "deposit": _doc(
        [_line(1, 3_000)], [_row(TaxCategory.standard, 1900, 3_000, 570)], invoice_kind=InvoiceKind.deposit
    ),
    "final": _doc(
        [_line(1, 10_000), _line(2, -3_000, quantity="-1")],
        [_row(TaxCategory.standard, 1900, 7_000, 1_330)],
        invoice_kind=InvoiceKind.final,
        references=[
            documents.DocumentReference(
                kind="deposit", number="INV-2026-000006", issue_date=date(2026, 11, 1), amount_minor=3_000
            )
        ],
    ),
    "credit_note": _doc(
        [_line(1, 10_000)],
        [_row(TaxCategory.standard, 1900, 10_000, 1_900)],
        document_type="credit_note",
        number="CN-2026-000001",
        reason="Cancelled booking",
        references=[
            documents.DocumentReference(
                kind="invoice", number="INV-2026-000007", issue_date=date(2026, 12, 1), amount_minor=11_900
            )
        ],
    ),
    "reverse_charge": _doc(
        [_line(1, 80_000, 0, category=TaxCategory.reverse_charge)],
        [_row(TaxCategory.reverse_charge, 0, 80_000, 0, documents.REVERSE_CHARGE_NOTE)],
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_documents_of_every_kind_are_valid_e_invoices(kind):
    doc = einvoice_from_document(KINDS[kind])
    assert doc.problems() == []
    assert doc.grand_total_minor == KINDS[kind].total_minor
    assert validate_cii(build_cii(doc)).fatal == []
    assert validate_ubl(build_ubl(doc)).fatal == []
