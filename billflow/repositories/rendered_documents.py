"""Rendered document files, keyed by invoice, file kind and content hash."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.einvoice import RenderedDocument


async def get_rendered(
    session: AsyncSession, *, invoice_id: int, kind: str, content_hash: str
) -> RenderedDocument | None:
    stmt = select(RenderedDocument).where(
        RenderedDocument.invoice_id == invoice_id,
        RenderedDocument.kind == kind,
        RenderedDocument.content_hash == content_hash,
    )
    return (await session.exec(stmt)).first()


async def store_rendered(session: AsyncSession, *, document: RenderedDocument) -> None:
    """Insert once: a second renderer of the same version (another worker, a retry) changes nothing."""
    values = document.model_dump(exclude={"id"})
    await session.exec(insert(RenderedDocument).values(**values).on_conflict_do_nothing())  # type: ignore[call-overload]


async def count_rendered(session: AsyncSession, *, invoice_id: int) -> int:
    rows = (await session.exec(select(RenderedDocument.id).where(RenderedDocument.invoice_id == invoice_id))).all()
    return len(rows)
