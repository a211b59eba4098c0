"""Queries on stored report snapshots and the checks that say whether one still holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.report_snapshots import ReportSnapshot


async def get_snapshot(
    session: AsyncSession, *, workspace_id: int, kind: str, as_of: date, zone: str, params: str
) -> ReportSnapshot | None:
    query = select(ReportSnapshot).where(
        ReportSnapshot.workspace_id == workspace_id,
        ReportSnapshot.kind == kind,
        ReportSnapshot.as_of == as_of,
        ReportSnapshot.zone == zone,
        ReportSnapshot.params == params,
    )
    return (await session.exec(query)).first()


async def high_water_marks(session: AsyncSession) -> dict[str, int]:
    """The newest ids of the rows a closed day's figures are made of (primary-key index ends: instant)."""
    row = (
        await session.execute(
            text(
                "SELECT COALESCE((SELECT max(id) FROM payments), 0) AS payments_max_id,"
                " COALESCE((SELECT max(id) FROM credit_notes), 0) AS credit_notes_max_id,"
                " COALESCE((SELECT max(id) FROM invoices), 0) AS invoices_max_id,"
                " COALESCE((SELECT max(id) FROM email_messages), 0) AS email_messages_max_id"
            )
        )
    ).one()
    return dict(row._mapping)


async def changed_before(session: AsyncSession, *, snapshot: ReportSnapshot, cutoff: datetime) -> bool:
    """Whether anything added or closed since the snapshot is dated before `cutoff`: a payment, refund or credit
    note received or issued then (back-dated), an invoice issued then, or an invoice voided or written off since
    (DSO's sales leave void invoices out; one closed with a later date was already closed when the snapshot was
    taken). Each part reads only rows newer than the snapshot, by index."""
    sql = """
SELECT EXISTS (SELECT 1 FROM payments WHERE id > :p AND received_at < :cutoff)
    OR EXISTS (SELECT 1 FROM credit_notes WHERE id > :n AND issued_at < :cutoff)
    OR EXISTS (SELECT 1 FROM invoices WHERE id > :i AND issued_at < :cutoff)
    OR EXISTS (SELECT 1 FROM email_messages WHERE id > :m AND sent_at < :cutoff)
    OR EXISTS (SELECT 1 FROM invoices WHERE status IN ('void', 'uncollectible')
               AND COALESCE(voided_at, written_off_at) BETWEEN :computed_at AND now() AND issued_at < :cutoff)
"""
    # A plan for these ids and this cutoff: the generic plan of the prepared statement (psycopg prepares it from
    # its fifth run) reads the received_at index from the cutoff on instead of the few newest ids (0.5 s).
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    params = {
        "p": snapshot.payments_max_id,
        "n": snapshot.credit_notes_max_id,
        "i": snapshot.invoices_max_id,
        "m": snapshot.email_messages_max_id,
        "cutoff": cutoff,
        "computed_at": snapshot.computed_at,
    }
    return bool((await session.execute(text(sql), params)).scalar())


async def save_snapshot(session: AsyncSession, *, snapshot: ReportSnapshot) -> None:
    """Insert or replace the snapshot of (workspace, kind, as_of, zone, params)."""
    values: dict[str, Any] = snapshot.model_dump(exclude={"id"})
    stmt = insert(ReportSnapshot).values(**values)
    key = ("workspace_id", "kind", "as_of", "zone", "params")
    stmt = stmt.on_conflict_do_update(
        index_elements=[getattr(ReportSnapshot, name) for name in key],
        set_={name: stmt.excluded[name] for name in values if name not in key},
    )
    await session.exec(stmt)  # type: ignore[call-overload]
