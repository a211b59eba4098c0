"""Report queries: every figure is aggregated in PostgreSQL (FILTER, date_trunc, GROUP BY), never in Python.

The SQL itself lives in billflow/repositories/report_sql.py, importable without SQLAlchemy, so that the CLI reads
the same text through psycopg alone (starter/reads.py); this module runs it through a session.

The indexes they rely on are declared (with the reason) in models/invoices.py and models/payments.py:
ix_invoices_unsettled_due (aging, top overdue, dashboard lists), ix_invoices_closed_at (aging as of a past date),
ix_invoices_issue_date_cover (DSO sales), ix_payments_received_cover (cash collected, aging as of a past date),
ix_invoices_paid_at (reminder effectiveness). Every query reads one workspace (issue 13), from the same indexes
led by workspace_id (ix_invoices_ws_*, ix_payments_ws_received_cover, ix_email_messages_ws_reminders_sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, text
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import report_sql
from billflow.repositories.report_sql import Query

_RECEIVABLE_AS_OF = report_sql.RECEIVABLE_AS_OF  # bench/reports.py builds its probes on it


async def fetch(session: AsyncSession, query: Query) -> Sequence[Row[Any]]:
    """Run one report query in the session's transaction, after its settings (report_sql.SESSION_SETTINGS)."""
    for setting in query.settings:
        await session.execute(text(setting))
    return (await session.execute(text(query.sql), query.params)).all()


async def aging_by_currency(
    session: AsyncSession, *, workspace_id: int, as_of: date, cutoff: datetime, zone: str
) -> Sequence[Row[Any]]:
    """Open balances at the end of as_of by currency, in buckets of days past due (0 or less is current)."""
    query = report_sql.aging_by_currency(workspace_id=workspace_id, as_of=as_of, cutoff=cutoff, zone=zone)
    return await fetch(session, query)


async def top_overdue_clients(
    session: AsyncSession, *, workspace_id: int, as_of: date, cutoff: datetime, zone: str, limit: int
) -> Sequence[Row[Any]]:
    """Clients with the largest balances past due at the end of as_of, per currency."""
    query = report_sql.top_overdue_clients(
        workspace_id=workspace_id, as_of=as_of, cutoff=cutoff, zone=zone, limit=limit
    )
    return await fetch(session, query)


async def cash_collected(
    session: AsyncSession, *, workspace_id: int, grain: str, start: datetime, end: datetime, time_zone: str
) -> Sequence[Row[Any]]:
    """Payments minus refunds received in [start, end), per period (day, week, month) and currency."""
    query = report_sql.cash_collected(workspace_id=workspace_id, grain=grain, start=start, end=end, time_zone=time_zone)
    return await fetch(session, query)


async def credit_sales(
    session: AsyncSession, *, workspace_id: int, start: datetime, end: datetime
) -> Sequence[Row[Any]]:
    """Invoiced totals issued in [start, end) per currency, net of the credit notes issued in it."""
    return await fetch(session, report_sql.credit_sales(workspace_id=workspace_id, start=start, end=end))


async def reminder_effectiveness(
    session: AsyncSession, *, workspace_id: int, within_days: int, start: datetime, end: datetime
) -> Sequence[Row[Any]]:
    """Per reminder step sent in [start, end): how many invoices got it and how many were paid within N days."""
    query = report_sql.reminder_effectiveness(workspace_id=workspace_id, within_days=within_days, start=start, end=end)
    return await fetch(session, query)


async def unsettled_invoices(
    session: AsyncSession,
    *,
    workspace_id: int,
    due_from: datetime | None,
    due_to: datetime | None,
    overdue_only: bool,
    limit: int,
) -> Sequence[Row[Any]]:
    """The dashboard's lists: unsettled invoices by due date (report_sql.unsettled_invoices)."""
    query = report_sql.unsettled_invoices(
        workspace_id=workspace_id, due_from=due_from, due_to=due_to, overdue_only=overdue_only, limit=limit
    )
    return await fetch(session, query)
