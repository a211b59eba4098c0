"""Document numbers: the next one of a workspace's series, gap-free (issue 13)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.numbering import (
    DEFAULT_PATTERN,
    DEFAULT_PREFIXES,
    DocumentType,
    NumberingSeries,
    NumberReset,
    render_number,
    split_number,
)

# An issued invoice's number until the last statement of its transaction replaces it (never committed).
PENDING_PREFIX = "pending-"


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


async def assign_invoice_number(
    conn: AsyncSession | AsyncConnection,
    *,
    invoice_id: int,
    placeholder: str,
    workspace_id: int,
    year: int,
    timeline_key: str,
) -> str | None:
    """Take the next invoice number and put it on the invoice still carrying `placeholder` (and on its "issued"
    timeline entry), in one statement; None if the invoice has its number already (another caller was first:
    then the counter is not touched, so no number is lost).

    Run it on an autocommit connection right after the issuing transaction committed: the counter row is then
    locked only while the statement runs, instead of until a client's commit (every other issue of the
    workspace waits for it meanwhile)."""
    series = (  # columns, not the entity: the same on a session and on a bare connection
        await conn.execute(
            select(NumberingSeries.id, NumberingSeries.prefix, NumberingSeries.pattern, NumberingSeries.reset).where(
                NumberingSeries.workspace_id == workspace_id,
                NumberingSeries.document_type == DocumentType.invoice.value,
            )
        )
    ).first()
    if series is None:
        raise SeriesMissing(f"workspace {workspace_id} has no invoice numbering series")
    head, width, tail = split_number(series.pattern, prefix=series.prefix, year=year)
    number = (
        await conn.execute(
            text(
                """
                WITH pending AS (
                  SELECT id FROM invoices WHERE id = :invoice AND number = :placeholder FOR UPDATE
                ), n AS (
                  INSERT INTO numbering_counters (series_id, period, last_value)
                  SELECT :series, :period, 1 FROM pending
                  ON CONFLICT (series_id, period) DO UPDATE SET last_value = numbering_counters.last_value + 1
                  RETURNING last_value
                ), num AS (
                  SELECT CAST(:head AS text) || lpad(n.last_value::text, greatest(CAST(:width AS int),
                         length(n.last_value::text)), '0') || CAST(:tail AS text) AS number
                  FROM n
                ), inv AS (
                  UPDATE invoices SET number = num.number FROM num
                  WHERE invoices.id = :invoice AND invoices.number = :placeholder
                  RETURNING invoices.number
                ), noted AS (
                  UPDATE timeline_events
                  SET message = replace(message, :placeholder, inv.number),
                      data = jsonb_set(data, '{number}', to_jsonb(inv.number))
                  FROM inv WHERE timeline_events.idempotency_key = :timeline_key
                )
                SELECT number FROM inv
                """
            ),
            {
                "series": series.id,
                "period": year if series.reset == NumberReset.yearly.value else 0,
                "head": head,
                "width": width,
                "tail": tail,
                "invoice": invoice_id,
                "placeholder": placeholder,
                "timeline_key": timeline_key,
            },
        )
    ).scalar_one_or_none()
    return None if number is None else str(number)
