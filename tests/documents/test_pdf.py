"""The document PDF prints the seller and buyer blocks, the VAT breakdown, the references and payment means."""

from __future__ import annotations

import io

from pypdf import PdfReader

from billflow.config import Settings
from billflow.db import Database
from billflow.services import credit_notes
from billflow.services.document_files import render_number_pdf
from models.enums import CreditNoteKind, TaxCategory
from models.workflow_io import LineIn
from tests.documents.conftest import business_booking, issue_directly


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


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
        "Atelier Nord",
        "VAT DE136695976",
        "HRB 12345 B",
        "VAT FR40303265045",
        "75002 Paris",
        "VAT BREAKDOWN",
        "Exempt on €50.00",
        "VAT 20 % on €100.00 €20.00",
        "IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX",
        "Date of supply",
        "VAT exempt: Art. 132",
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
    assert "CREDIT NOTE" in text and note.number in text
    assert f"Corrects invoice {invoice.number} of {invoice.issue_date.isoformat()}" in text
    assert "shorter session" in text and "Total credited €20.00" in text
