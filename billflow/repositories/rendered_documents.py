"""Rendered document files, keyed by invoice, file kind and content hash."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.einvoice import RenderedDocument


async def get_rendered(
    session: AsyncSession, *, invoice_id: int, kind: str, content_hash: str, credit_note_id: int | None = None
) -> RenderedDocument | None:
    """The invoice's file (credit_note_id None) or the file of one of its credit notes."""
    owner = (
        RenderedDocument.credit_note_id.is_(None)  # type: ignore[union-attr]
        if credit_note_id is None
        else RenderedDocument.credit_note_id == credit_note_id
    )
    stmt = select(RenderedDocument).where(
        RenderedDocument.invoice_id == invoice_id,
        owner,
        RenderedDocument.kind == kind,
        RenderedDocument.content_hash == content_hash,
    )
    return (await session.exec(stmt)).first()


async def store_rendered(session: AsyncSession, *, document: RenderedDocument) -> None:
    """Insert once: a second renderer of the same version (another worker, a retry) changes nothing."""
    values = document.model_dump(exclude={"id"})
    await session.exec(insert(RenderedDocument).values(**values).on_conflict_do_nothing())  # type: ignore[call-overload]


async def count_rendered(session: AsyncSession, *, invoice_id: int, credit_note_id: int | None = None) -> int:
    """Files stored for the invoice (its credit notes' included), or for one credit note."""
    stmt = select(RenderedDocument.id).where(RenderedDocument.invoice_id == invoice_id)
    if credit_note_id is not None:
        stmt = stmt.where(RenderedDocument.credit_note_id == credit_note_id)
    return len((await session.exec(stmt)).all())
