"""E-invoice formats per client, and the rendered bytes of every document version (rendered once, then served)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant


class DocumentFormat(StrEnum):
    """What a client receives with the issue email (the `clients.einvoice_format` column)."""

    pdf = "pdf"  # the invoice PDF; it is a Factur-X PDF/A-3, so any reader can also take its data
    facturx = "facturx"  # the same Factur-X PDF, chosen explicitly (France, ZUGFeRD receivers in Germany)
    xrechnung = "xrechnung"  # XRechnung UBL XML (German public and B2B buyers), with the PDF as a copy
    peppol = "peppol"  # Peppol BIS Billing 3.0 UBL XML, with the PDF as a copy


class FileKind(StrEnum):
    """A downloadable file of a document (`GET /v1/invoices/{n}/document?format=...`)."""

    pdf = "pdf"  # Factur-X PDF/A-3 (CII embedded)
    cii = "cii"  # the Factur-X CII XML alone
    xrechnung = "xrechnung"  # XRechnung UBL
    xrechnung_cii = "xrechnung-cii"  # XRechnung CII
    peppol = "peppol"  # Peppol BIS Billing 3.0 UBL


class RenderedDocument(SQLModel, table=True):
    """The bytes of one file of one document version. The content hash covers everything the file is made from
    (the EN 16931 document, the logo, the renderer's version), so a document is rendered once per version and
    a second worker racing on the same version inserts nothing (unique key). A credit note's files are stored
    under the invoice it corrects, with `credit_note_id` set (its number is in the hashed document)."""

    __tablename__ = "rendered_documents"
    __table_args__ = (UniqueConstraint("invoice_id", "kind", "content_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    credit_note_id: int | None = Field(default=None, foreign_key="credit_notes.id", index=True)
    kind: str = Field(max_length=20)
    content_hash: str = Field(max_length=64)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = instant(nullable=False, default_now=True)
