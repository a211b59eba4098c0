"""An invoice's files (Factur-X PDF, XRechnung, Peppol UBL, CII), rendered at most once per document version.

The content hash covers everything a file is made from: the EN 16931 document built from the database, the
links printed on it, the logo's bytes and the renderer's version. The bytes are stored under that hash, so the
issue email, every reminder, the invoice page and the API serve the same file, rendered once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from functools import cache
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow import render_pool
from billflow.config import Settings
from billflow.db import Database
from billflow.einvoice.files import RENDERER_VERSION, DocumentFile, DocumentInvalid, files_for, render_file
from billflow.einvoice.from_invoice import einvoice_from_invoice
from billflow.einvoice.model import EInvoice
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import rendered_documents as rendered_repo
from models.einvoice import DocumentFormat, FileKind, RenderedDocument
from models.invoices import Invoice

log = logging.getLogger(__name__)

__all__ = [
    "DocumentFile",
    "DocumentInvalid",
    "InvoiceNotFound",
    "attachments_for",
    "build_document",
    "document_file",
    "invoice_file",
]


@cache
def _logo_digest(path: Path | None, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else ""


def _logo(settings: Settings) -> tuple[Path | None, str]:
    path = settings.business_logo
    if path is None or not path.is_file():
        return None, ""
    return path, _logo_digest(path, path.stat().st_mtime_ns)


def content_hash(doc: EInvoice, kind: FileKind, *, invoice_url: str, logo_digest: str) -> str:
    parts = (RENDERER_VERSION, kind.value, invoice_url, logo_digest, doc.model_dump_json())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def build_document(session: AsyncSession, *, invoice: Invoice, settings: Settings) -> tuple[EInvoice, str]:
    """The EN 16931 document of an invoice, and its page URL."""
    assert invoice.id is not None
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    lines = await invoices_repo.get_lines(session, invoice_id=invoice.id)
    base = settings.public_base_url.rstrip("/")
    doc = einvoice_from_invoice(
        invoice=invoice, client=client, lines=lines, settings=settings, pay_url=f"{base}/pay/{invoice.public_token}"
    )
    return doc, f"{base}/i/{invoice.public_token}"


async def document_file(
    session: AsyncSession, *, invoice: Invoice, settings: Settings, kind: FileKind, doc: EInvoice | None = None
) -> DocumentFile:
    """The stored file of this document version, rendered (in a thread: it is CPU work) only the first time.
    Raises DocumentInvalid when the data cannot make this kind of file."""
    assert invoice.id is not None
    if doc is None:
        doc, invoice_url = await build_document(session, invoice=invoice, settings=settings)
    else:
        invoice_url = f"{settings.public_base_url.rstrip('/')}/i/{invoice.public_token}"
    logo, logo_digest = _logo(settings)
    digest = content_hash(doc, kind, invoice_url=invoice_url, logo_digest=logo_digest)
    stored = await rendered_repo.get_rendered(session, invoice_id=invoice.id, kind=kind.value, content_hash=digest)
    if stored is not None:
        return DocumentFile(kind, stored.filename, stored.content_type, stored.content)
    rendered = await render_pool.render(render_file, doc, kind, logo=logo, invoice_url=invoice_url)
    await rendered_repo.store_rendered(
        session,
        document=RenderedDocument(
            invoice_id=invoice.id,
            kind=kind.value,
            content_hash=digest,
            filename=rendered.filename,
            content_type=rendered.content_type,
            content=rendered.content,
        ),
    )
    log.info("rendered %s of %s (%d bytes)", kind.value, invoice.number, len(rendered.content))
    # A worker racing on the same version stored its file first: serve that one, so every email and download
    # of this version carries the same bytes.
    stored = await rendered_repo.get_rendered(session, invoice_id=invoice.id, kind=kind.value, content_hash=digest)
    if stored is not None and stored.content != rendered.content:
        return DocumentFile(kind, stored.filename, stored.content_type, stored.content)
    return rendered


async def attachments_for(
    session: AsyncSession, *, invoice: Invoice, settings: Settings, with_einvoice: bool
) -> list[DocumentFile]:
    """The PDF, and (with_einvoice: the issue email) the e-invoice file the client's format asks for. A format
    the data cannot satisfy (an XRechnung client without a Leitweg-ID) is logged and the PDF still goes."""
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    fmt = DocumentFormat(client.einvoice_format) if with_einvoice else DocumentFormat.pdf
    doc, _ = await build_document(session, invoice=invoice, settings=settings)
    found = []
    for kind in files_for(fmt):
        try:
            found.append(await document_file(session, invoice=invoice, settings=settings, kind=kind, doc=doc))
        except DocumentInvalid as err:
            log.warning("invoice %s: no %s file for client %s: %s", invoice.number, kind.value, client.id, err)
    return found


class InvoiceNotFound(LookupError):
    pass


async def invoice_file(db: Database, settings: Settings, *, number: str, kind: FileKind) -> DocumentFile:
    """The staff download: one file of the invoice numbered `number`."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        return await document_file(session, invoice=invoice, settings=settings, kind=kind)


async def render_number_pdf(session: AsyncSession, *, number: str, settings: Settings) -> bytes:
    """The PDF of the invoice or credit note with this number, as issued."""
    from billflow.einvoice.from_document import document_pdf
    from billflow.services.documents import load_document

    doc = await load_document(session, number=number, settings=settings)
    return await asyncio.to_thread(document_pdf, doc, settings)
