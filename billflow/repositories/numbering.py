"""Document numbers: the next one of a workspace's series, gap-free (issue 13)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.numbering import (
    DEFAULT_PATTERN,
    DEFAULT_PREFIXES,
    DocumentType,
    NumberingSeries,
    NumberReset,
    render_number,
)


class SeriesMissing(LookupError):
    """The workspace has no numbering series for this document type."""


async def get_series(
    session: AsyncSession, *, workspace_id: int, document_type: DocumentType
) -> NumberingSeries | None:
    query = select(NumberingSeries).where(
        NumberingSeries.workspace_id == workspace_id, NumberingSeries.document_type == document_type.value
    )
    return (await session.exec(query)).first()


async def list_series(session: AsyncSession, *, workspace_id: int) -> Sequence[NumberingSeries]:
    query = select(NumberingSeries).where(NumberingSeries.workspace_id == workspace_id)
    return (await session.exec(query.order_by(col(NumberingSeries.document_type)))).all()


async def save_series(
    session: AsyncSession,
    *,
    workspace_id: int,
    document_type: DocumentType,
    prefix: str,
    pattern: str = DEFAULT_PATTERN,
    reset: NumberReset = NumberReset.yearly,
) -> NumberingSeries:
    """Create the series or change how it prints; its counters (the numbers already handed out) stay."""
    series = await get_series(session, workspace_id=workspace_id, document_type=document_type)
    if series is None:
        series = NumberingSeries(workspace_id=workspace_id, document_type=document_type.value)
    series.prefix, series.pattern, series.reset = prefix, pattern, reset.value
    session.add(series)
    await session.flush()
    return series


async def add_default_series(session: AsyncSession, *, workspace_id: int, prefix_base: str) -> None:
    """A new workspace's series: `{base}-INV-2026-000001`, `{base}-CN-2026-000001`, yearly."""
    for document_type, kind in DEFAULT_PREFIXES.items():
        prefix = f"{prefix_base[: 11 - len(kind)]}-{kind}" if prefix_base else kind
        await save_series(session, workspace_id=workspace_id, document_type=document_type, prefix=prefix)


async def next_number(session: AsyncSession, *, workspace_id: int, document_type: DocumentType, year: int) -> str:
    """The next number of the series for a document issued in `year`.

    The counter row stays locked until the caller's transaction ends, so numbers are handed out in commit
    order and a rolled-back document returns its number.
    """
    series = await get_series(session, workspace_id=workspace_id, document_type=document_type)
    if series is None:
        raise SeriesMissing(f"workspace {workspace_id} has no {document_type.value} numbering series")
    period = year if series.reset == NumberReset.yearly.value else 0
    value = (
        await session.execute(
            text(
                "INSERT INTO numbering_counters (series_id, period, last_value) VALUES (:series, :period, 1) "
                "ON CONFLICT (series_id, period) DO UPDATE SET last_value = numbering_counters.last_value + 1 "
                "RETURNING last_value"
            ),
            {"series": series.id, "period": period},
        )
    ).scalar_one()
    return render_number(series.pattern, prefix=series.prefix, year=year, seq=int(value))
