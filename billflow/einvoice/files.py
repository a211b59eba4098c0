"""Every file a document can be delivered as, from the one EN 16931 model, and the rules that refuse a file
that could not be valid (the rule and the field named, before anything is rendered)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billflow.einvoice.cii import CiiProfile, build_cii
from billflow.einvoice.facturx_pdf import render_facturx
from billflow.einvoice.model import DocumentType, EInvoice
from billflow.einvoice.ubl import UblProfile, build_ubl
from billflow.pdf import DEFAULT_LOCALE, render_document_pdf
from models.einvoice import DocumentFormat, FileKind

# Bumped whenever a generator's output changes, so cached files of older renderers are not served.
RENDERER_VERSION = "1"


@dataclass(frozen=True)
class DocumentFile:
    kind: FileKind
    filename: str
    content_type: str
    content: bytes


class DocumentInvalid(ValueError):
    """The document cannot be produced in this format; the message names the rules and fields."""


def problems(doc: EInvoice, kind: FileKind) -> list[str]:
    found = doc.problems()
    if kind in (FileKind.xrechnung, FileKind.xrechnung_cii):
        if not doc.buyer_reference:
            found.append("BR-DE-15: buyer_reference (the Leitweg-ID) is required for XRechnung")
        if not doc.seller.phone:
            found.append("BR-DE-6: the seller's contact phone is required for XRechnung (BILLFLOW_BUSINESS_PHONE)")
        if not doc.seller.email:
            found.append("BR-DE-7: the seller's contact email is required for XRechnung")
        if doc.type_code is DocumentType.prepayment:
            found.append("BR-DE-17: XRechnung has no advance-payment type (386): send deposits as Factur-X or Peppol")
        if not doc.payment_means:
            found.append("BR-DE-1: payment instructions are required for XRechnung (BILLFLOW_BUSINESS_IBAN)")
    if kind is FileKind.peppol:
        if not (doc.buyer_reference or doc.order_reference):
            found.append("PEPPOL-EN16931-R003: buyer_reference or an order reference is required")
        for role, party in (("seller", doc.seller), ("buyer", doc.buyer)):
            if not party.endpoint_id:
                found.append(f"PEPPOL-EN16931-R0{1 if role == 'seller' else 2}0: {role}.endpoint_id is required")
    return found


def render_file(
    doc: EInvoice,
    kind: FileKind,
    *,
    logo: Path | None = None,
    invoice_url: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> DocumentFile:
    """Render one file (CPU-bound: call it in a thread from async code). A PDF is always produced: when the
    data cannot make a valid e-invoice (no seller country, say) it is the plain PDF/A without embedded XML."""
    stem = doc.number
    if kind is FileKind.pdf:
        if doc.problems():
            content = render_document_pdf(doc, logo=logo, invoice_url=invoice_url, locale=locale)
        else:
            content = render_facturx(doc, logo=logo, invoice_url=invoice_url, locale=locale)
        return DocumentFile(kind, f"{stem}.pdf", "application/pdf", content)
    found = problems(doc, kind)
    if found:
        raise DocumentInvalid("; ".join(found))
    if kind is FileKind.cii:
        return DocumentFile(kind, f"{stem}.factur-x.xml", "application/xml", build_cii(doc))
    if kind is FileKind.xrechnung_cii:
        xml = build_cii(doc, profile=CiiProfile.xrechnung)
        return DocumentFile(kind, f"{stem}.xrechnung-cii.xml", "application/xml", xml)
    if kind is FileKind.xrechnung:
        return DocumentFile(
            kind, f"{stem}.xrechnung.xml", "application/xml", build_ubl(doc, profile=UblProfile.xrechnung)
        )
    return DocumentFile(kind, f"{stem}.peppol.xml", "application/xml", build_ubl(doc, profile=UblProfile.peppol))


def files_for(fmt: DocumentFormat) -> list[FileKind]:
    """The attachments of a client's issue email: always the PDF; the UBL file its format asks for."""
    extra = {DocumentFormat.xrechnung: [FileKind.xrechnung], DocumentFormat.peppol: [FileKind.peppol]}
    return [FileKind.pdf, *extra.get(fmt, [])]
