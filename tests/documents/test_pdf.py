"""The document PDF prints the seller and buyer blocks, the VAT breakdown, the references and payment means."""

from __future__ import annotations

from billflow.config import Settings
from billflow.db import Database
from billflow.pdf import render_number_pdf
from billflow.services import credit_notes
from models.enums import CreditNoteKind, TaxCategory
from models.workflow_io import LineIn
from tests.documents.conftest import business_booking, issue_directly
from tests.web.test_invoice_pdf import _text


async def test_invoice_pdf_has_both_parties_the_breakdown_and_payment_means(
    db: Database, doc_settings: Settings
) -> None:
    lines = [
        LineIn(description="Session", unit_price_minor=10_000, tax_rate_bp=2000),
        LineIn(
            description="Training", unit_price_minor=5_000, tax_category=TaxCategory.exempt, exemption_reason="Art. 132"
        ),
    ]
    invoice = await issue_directly(db, doc_settings, business_booking(lines=lines))
    async with db.session() as session:
        text = _text(await render_number_pdf(session, number=invoice.number, settings=doc_settings))
    for expected in (
        b"Atelier Nord GmbH",
        b"VAT id: DE136695976",
        b"Reg.: HRB 12345 B",
        b"VAT id: FR40303265045",
        b"75002 Paris",
        b"VAT breakdown",
        rb"Exempt \(Art. 132\)",  # parentheses are escaped in PDF strings
        b"IBAN DE89370400440532013000, BIC COBADEFFXXX",
        b"Date of supply",
        b"VAT exempt: Art. 132",
    ):
        assert expected in text, expected


async def test_credit_note_pdf_references_the_invoice(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    assert invoice.id is not None
    async with db.session() as session:
        note = await credit_notes.issue_credit_note(
            session, invoice_id=invoice.id, kind=CreditNoteKind.partial, reason="shorter session",
            key=f"pdf:{invoice.id}", amount_minor=2_000,
        )  # fmt: skip
    assert note is not None
    async with db.session() as session:
        text = _text(await render_number_pdf(session, number=note.number, settings=doc_settings))
    assert b"CREDIT NOTE" in text and note.number.encode() in text
    assert f"{invoice.number} of {invoice.issue_date.isoformat()}".encode() in text
    assert b"shorter session" in text
