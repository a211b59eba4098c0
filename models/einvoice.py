"""E-invoice formats per client, and the rendered bytes of every document version (rendered once, then served)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, owned_workspace_fk
from models.document_formats import DocumentFormat as DocumentFormat  # re-exported: where the tables live
from models.document_formats import FileKind as FileKind


class RenderedDocument(SQLModel, table=True):
    """The bytes of one file of one document version. The content hash covers everything the file is made from
    (the EN 16931 document, the logo, the renderer's version), so a document is rendered once per version and
    a second worker racing on the same version inserts nothing (unique key). A credit note's files are stored
    under the invoice it corrects, with `credit_note_id` set (its number is in the hashed document)."""

    __tablename__ = "rendered_documents"
    __table_args__ = (UniqueConstraint("invoice_id", "kind", "content_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    credit_note_id: int | None = Field(default=None, foreign_key="credit_notes.id", index=True)
    kind: str = Field(max_length=20)
    content_hash: str = Field(max_length=64)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = instant(nullable=False, default_now=True)
