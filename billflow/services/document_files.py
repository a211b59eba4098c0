"""An invoice's files (Factur-X PDF, XRechnung, Peppol UBL, CII), rendered at most once per document version.

The content hash covers everything a file is made from: the EN 16931 document built from the database, the
links printed on it, the logo's bytes and the renderer's version. The bytes are stored under that hash, so the
issue email, every reminder, the invoice page and the API serve the same file, rendered once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from functools import cache
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow import render_pool
from billflow.config import Settings
from billflow.db import Database
from billflow.einvoice.files import RENDERER_VERSION, DocumentFile, DocumentInvalid, files_for, render_file
from billflow.einvoice.model import EInvoice
from billflow.pdf import DEFAULT_LOCALE
from billflow.repositories import clients as clients_repo
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import rendered_documents as rendered_repo
from billflow.repositories import workspaces as workspaces_repo
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
    "number_pdf",
    "render_number_pdf",
]


@cache
def _logo_digest(path: Path | None, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else ""


def _logo(settings: Settings) -> tuple[Path | None, str]:
    path = settings.business_logo
    if path is None or not path.is_file():
        return None, ""
    return path, _logo_digest(path, path.stat().st_mtime_ns)


def _document_logo(content: bytes | None, settings: Settings) -> tuple[Path | None, str]:
    """The issuing workspace's logo (Settings > Business profile) when it has one, else the installation's
    BILLFLOW_BUSINESS_LOGO. Written once per content to a file the render process can open; the digest is part
    of the content hash, so a new logo is a new document version."""
    if not content:
        return _logo(settings)
    digest = hashlib.sha256(content).hexdigest()
    path = Path(tempfile.gettempdir()) / "billflow-logos" / digest
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_bytes(content)
        staged.replace(path)  # atomic: a racing render never reads half a file
    return path, digest


async def with_workspace_footer(session: AsyncSession, *, invoice_id: int, doc: EInvoice) -> EInvoice:
    """The issuing workspace's invoice footer (Settings > Business profile) as the document's last note (BT-22):
    printed on the PDF and carried in the XML; part of the content, so a changed footer is a new version."""
    footer = (await workspaces_repo.branding_of_invoice(session, invoice_id=invoice_id)).footer
    if not footer or footer in doc.notes:
        return doc
    return doc.model_copy(update={"notes": [*doc.notes, footer]})


def content_hash(
    doc: EInvoice, kind: FileKind, *, invoice_url: str, logo_digest: str, locale: str = DEFAULT_LOCALE
) -> str:
    # The default locale adds nothing, so files stored before amounts followed the workspace's locale still match.
    locale_part = () if locale == DEFAULT_LOCALE else (f"locale={locale}",)
    parts = (RENDERER_VERSION, kind.value, invoice_url, logo_digest, doc.model_dump_json(), *locale_part)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def build_document(session: AsyncSession, *, invoice: Invoice, settings: Settings) -> tuple[EInvoice, str]:
    """The EN 16931 document of an invoice as issued (seller, buyer and lines as frozen at issue: the same
    document `document show`, the API and the page print), and its page URL. The buyer reference (BT-10, the
    Leitweg-ID) is the client's routing setting, read as it is now."""
    from billflow.einvoice.from_document import einvoice_from_document
    from billflow.services.documents import load_document

    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    doc = await load_document(session, number=invoice.number, settings=settings)
    einvoice = einvoice_from_document(doc, phone=settings.business_phone)
    if client.buyer_reference:
        einvoice = einvoice.model_copy(update={"buyer_reference": client.buyer_reference})
    assert invoice.id is not None
    einvoice = await with_workspace_footer(session, invoice_id=invoice.id, doc=einvoice)
    base = settings.public_base_url.rstrip("/")
    return einvoice, f"{base}/i/{invoice.public_token}"


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
    return await _stored_file(
        session, invoice_id=invoice.id, credit_note_id=None, doc=doc, kind=kind, url=invoice_url, settings=settings
    )


async def _stored_file(
    session: AsyncSession,
    *,
    invoice_id: int,
    credit_note_id: int | None,
    doc: EInvoice,
    kind: FileKind,
    url: str | None,
    settings: Settings,
) -> DocumentFile:
    """Read back the file of this exact version, or render it once and store it."""
    branding = await workspaces_repo.branding_of_invoice(session, invoice_id=invoice_id)
    logo, logo_digest = _document_logo(branding.logo, settings)
    locale = branding.locale or DEFAULT_LOCALE
    digest = content_hash(doc, kind, invoice_url=url or "", logo_digest=logo_digest, locale=locale)
    stored = await rendered_repo.get_rendered(
        session, invoice_id=invoice_id, credit_note_id=credit_note_id, kind=kind.value, content_hash=digest
    )
    if stored is not None:
        return DocumentFile(kind, stored.filename, stored.content_type, stored.content)
    rendered = await render_pool.render(render_file, doc, kind, logo=logo, invoice_url=url, locale=locale)
    await rendered_repo.store_rendered(
        session,
        document=RenderedDocument(
            invoice_id=invoice_id,
            credit_note_id=credit_note_id,
            kind=kind.value,
            content_hash=digest,
            filename=rendered.filename,
            content_type=rendered.content_type,
            content=rendered.content,
        ),
    )
    log.info("rendered %s of %s (%d bytes)", kind.value, doc.number, len(rendered.content))
    # A worker racing on the same version stored its file first: serve that one, so every email and download
    # of this version carries the same bytes.
    stored = await rendered_repo.get_rendered(
        session, invoice_id=invoice_id, credit_note_id=credit_note_id, kind=kind.value, content_hash=digest
    )
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


async def number_pdf(session: AsyncSession, *, number: str, settings: Settings) -> DocumentFile:
    """The PDF of the invoice or credit note with this number, as issued, rendered once per document version:
    the credit-note email, its re-sends, `document show` and the API serve the same stored bytes. An invoice
    number gives the invoice's own PDF (the file its emails carry). Raises DocumentNotFound."""
    from billflow.einvoice.from_document import einvoice_from_document
    from billflow.services.documents import DocumentNotFound, load_document

    note = await credit_notes_repo.get_credit_note(session, number=number)
    if note is None:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise DocumentNotFound(f"no invoice or credit note {number}")
        return await document_file(session, invoice=invoice, settings=settings, kind=FileKind.pdf)
    assert note.id is not None
    doc = await load_document(session, number=number, settings=settings)
    einvoice = einvoice_from_document(doc, phone=settings.business_phone)
    einvoice = await with_workspace_footer(session, invoice_id=note.invoice_id, doc=einvoice)
    return await _stored_file(
        session,
        invoice_id=note.invoice_id,
        credit_note_id=note.id,
        doc=einvoice,
        kind=FileKind.pdf,
        url=doc.public_url,
        settings=settings,
    )


async def render_number_pdf(session: AsyncSession, *, number: str, settings: Settings) -> bytes:
    """The bytes of `number_pdf`."""
    return (await number_pdf(session, number=number, settings=settings)).content
