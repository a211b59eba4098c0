"""Factur-X: the document's PDF (PDF/A-3b) with its CII XML embedded as factur-x.xml, by the factur-x library
(attachment, AF relationship, the Factur-X XMP extension schema and PDF/A identification)."""

from __future__ import annotations

from pathlib import Path

from facturx import generate_from_binary

from billflow.einvoice.cii import CiiProfile, build_cii
from billflow.einvoice.model import EInvoice
from billflow.pdf import DEFAULT_LOCALE, render_document_pdf


def render_facturx(
    doc: EInvoice, *, logo: Path | None = None, invoice_url: str | None = None, locale: str = DEFAULT_LOCALE
) -> bytes:
    xml = build_cii(doc, profile=CiiProfile.factur_x)
    pdf = render_document_pdf(doc, logo=logo, invoice_url=invoice_url, locale=locale)
    metadata = {
        "author": doc.seller.name,
        "keywords": "Factur-X, ZUGFeRD, EN 16931, invoice",
        "title": f"{doc.seller.name}: {doc.number}",
        "subject": f"{doc.type_code.name.replace('_', ' ').title()} {doc.number}",
    }
    # The XML is validated in the tests (XSD + Schematron); checking the XSD here again would cost ~40 ms a file.
    return bytes(
        generate_from_binary(
            pdf, xml, flavor="factur-x", level="en16931", check_xsd=False, pdf_metadata=metadata, lang="en"
        )
    )
