"""Queries on Cal.com bookings (uid -> root booking); deliveries are claimed in the inbox (repositories/inbox)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.calcom_bookings import CalcomBooking
from models.columns import utcnow
from models.invoices import Invoice


async def get_booking(session: AsyncSession, *, integration: str, uid: str) -> CalcomBooking | None:
    query = select(CalcomBooking).where(CalcomBooking.integration == integration, CalcomBooking.uid == uid)
    return (await session.exec(query)).first()


async def add_booking(
    session: AsyncSession, *, integration: str, uid: str, root_uid: str, start_time: datetime | None
) -> CalcomBooking:
    """Map `uid` to its root booking once (a later call keeps the first mapping); returns the stored row."""
    stmt = (
        insert(CalcomBooking)
        .values(integration=integration, uid=uid, root_uid=root_uid, start_time=start_time, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[col(CalcomBooking.integration), col(CalcomBooking.uid)])
    )
    await session.exec(stmt)  # type: ignore[call-overload]
    row = await get_booking(session, integration=integration, uid=uid)
    assert row is not None
    return row


async def mark_superseded(session: AsyncSession, *, integration: str, uid: str, by_uid: str) -> None:
    stmt = (
        update(CalcomBooking)
        .where(col(CalcomBooking.integration) == integration, col(CalcomBooking.uid) == uid)
        .values(superseded_by=by_uid)
    )
    await session.exec(stmt)  # type: ignore[call-overload]


async def set_service_date(session: AsyncSession, *, invoice_id: int, service_date: date) -> None:
    """A rescheduled booking moves the invoice's service date (amounts, due date and number stay)."""
    stmt = update(Invoice).where(col(Invoice.id) == invoice_id).values(service_date=service_date, updated_at=utcnow())
    await session.exec(stmt)  # type: ignore[call-overload]
