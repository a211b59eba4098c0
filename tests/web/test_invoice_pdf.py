"""The invoice PDF: any currency and any text render, and the same invoice renders the same bytes."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billflow.pdf import render_invoice_pdf
from models.clients import Client
from models.invoices import Invoice, InvoiceLine


def _invoice(currency: str, unit: int) -> tuple[Invoice, list[InvoiceLine]]:
    invoice = Invoice(
        id=1,
        number="INV-2026-000042",
        source_key="k",
        workflow_id="w",
        client_id=1,
        currency=currency,
        subtotal_minor=2 * unit,
        tax_minor=0,
        total_minor=2 * unit,
        amount_paid_minor=unit,
        issue_date=date(2026, 11, 24),
        due_date=date(2026, 12, 8),
        issued_at=datetime(2026, 11, 24, tzinfo=UTC),
        due_at=datetime(2026, 12, 8, tzinfo=UTC),
        timezone="Europe/Paris",
        public_token="t" * 32,
        memo="Merci — à bientôt “chez nous” €",
    )
    line = InvoiceLine(
        invoice_id=1,
        position=1,
        description="Séance de stratégie \u00d7 2 — €",
        quantity=Decimal("2.500"),
        unit_price_minor=unit,
        tax_rate_bp=550,
        subtotal_minor=2 * unit,
        tax_minor=0,
        total_minor=2 * unit,
    )
    return invoice, [line]


def _text(pdf: bytes) -> bytes:
    """Inflate the page content streams, enough to find the words written on them."""
    chunks = []
    for part in pdf.split(b"stream")[1:]:
        body = part.split(b"endstream")[0].strip(b"\r\n")
        try:
            chunks.append(zlib.decompress(body))
        except zlib.error:
            chunks.append(body)
    return b"".join(chunks)


@pytest.mark.parametrize(("currency", "unit", "shown"), [("EUR", 12_345, b"123.45 EUR"), ("JPY", 5000, b"5,000 JPY")])
def test_renders_amounts_and_text_outside_latin1(currency: str, unit: int, shown: bytes) -> None:
    invoice, lines = _invoice(currency, unit)
    client = Client(id=1, external_id="c", name="Zoë Ångström", email="zoe@example.com")
    pdf = render_invoice_pdf(
        invoice=invoice, client=client, lines=lines, business_name="Atelier Élan", invoice_url="https://x/i/t"
    )
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    assert b"INV-2026-000042" in text and shown in text and b"Balance due" in text
    again = render_invoice_pdf(
        invoice=invoice, client=client, lines=lines, business_name="Atelier Élan", invoice_url="https://x/i/t"
    )
    assert again == pdf
