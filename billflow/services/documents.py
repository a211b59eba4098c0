"""Everything a document says, gathered from the database in one place: the PDF, the invoice page and the
e-invoice model (billflow/einvoice) are all built from `load_document`'s InvoiceDocument. The building itself is
billflow/services/document_content.py, which `billflow credit-note show` runs on psycopg rows."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.config import Settings
from billflow.repositories import clients as clients_repo
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import invoices as invoices_repo
from billflow.services.document_content import credit_note_document, invoice_document
from models.documents import InvoiceDocument


class DocumentNotFound(LookupError):
    pass


async def load_document(session: AsyncSession, *, number: str, settings: Settings) -> InvoiceDocument:
    """The invoice (INV-...) or credit note (CN-...) with this number, as it was issued."""
    note = await credit_notes_repo.get_credit_note(session, number=number)
    if note is not None:
        assert note.id is not None
        invoice = await invoices_repo.get_invoice(session, invoice_id=note.invoice_id)
        assert invoice is not None
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
        assert client is not None
        lines = await credit_notes_repo.get_lines(session, credit_note_id=note.id)
        return credit_note_document(note, lines, invoice=invoice, client=client, settings=settings)
    invoice = await invoices_repo.get_invoice(session, number=number)
    if invoice is None:
        raise DocumentNotFound(f"no invoice or credit note {number}")
    assert invoice.id is not None
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    invoice_lines = await invoices_repo.get_lines(session, invoice_id=invoice.id)
    deposit = None
    if invoice.deposit_invoice_id is not None:
        deposit = await invoices_repo.get_invoice(session, invoice_id=invoice.deposit_invoice_id)
    notes = [n for n, _ in await credit_notes_repo.list_credit_notes(session, invoice_id=invoice.id, limit=100)]
    return invoice_document(invoice, client, invoice_lines, settings=settings, deposit=deposit, credit_notes=notes)
