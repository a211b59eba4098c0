"""The staff app's overview: receivables by currency, cash collected, aging, DSO trend, and what needs a person
today. Figures come from billflow.services.reports (the same numbers as the API and the CLI)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from billflow.db import Database
from billflow.reporting import today_in
from billflow.repositories import attention
from billflow.services import report_snapshots, reports
from models.columns import DEFAULT_WORKSPACE_ID


class AttentionEmail(BaseModel):
    invoice_number: str | None
    kind: str
    to_email: str
    status: str
    error: str | None
    updated_at: datetime


class BouncedClient(BaseModel):
    external_id: str
    name: str
    email: str


class RefundToDecide(BaseModel):
    invoice_number: str
    client_name: str
    amount_paid_minor: int
    currency: str
    why: str
    flagged_at: datetime


class DsoPoint(BaseModel):
    as_of: date
    currency: str
    dso_days: float | None


class Overview(BaseModel):
    today: date
    dashboard: reports.DashboardSummary
    cash_months: reports.CashReport
    cash_days: reports.CashReport
    dso_trend: list[DsoPoint]
    failed_emails: list[AttentionEmail]
    bounced_clients: list[BouncedClient]
    refunds_to_decide: list[RefundToDecide] = []


def _month_ends(today: date, count: int) -> list[date]:
    ends, first = [], today.replace(day=1)
    for _ in range(count - 1):
        ends.append(first - timedelta(days=1))
        first = (first - timedelta(days=1)).replace(day=1)
    return [*reversed(ends), today]


async def _dso_at(db: Database, ends: list[date], zone: str, workspace_id: int) -> list[DsoPoint]:
    """The DSO points of closed month ends, from their snapshots (report_snapshots), one after the other on one
    connection of their own: five connections side by side cost the same at the median and three times as much at
    p99 (pool and scheduling contention; 27 against 71 ms at 1M invoices, 2026-12-04)."""
    points = []
    async with db.session() as session:
        for end in ends:
            dso = await report_snapshots.days_sales_outstanding(
                session, as_of=end, zone=zone, workspace_id=workspace_id
            )
            points += [DsoPoint(as_of=end, currency=r.currency, dso_days=r.dso_days) for r in dso.rows]
    return points


async def overview(
    db: Database, *, today: date | None = None, zone: str = "UTC", workspace_id: int = DEFAULT_WORKSPACE_ID
) -> Overview:
    """One workspace's overview. Days are the business's reporting days (BILLFLOW_REPORTING_TIMEZONE), as in
    every report."""
    ws = workspace_id
    day = today or today_in(zone)
    # The closed month ends' DSO points come from their snapshots, beside the main session on a connection of
    # their own; today's point reuses the dashboard's aging of today instead of computing it twice.
    month_ends = _month_ends(day, 6)
    closed_points = asyncio.create_task(_dso_at(db, month_ends[:-1], zone, ws))
    try:
        async with db.session() as session:
            summary = await reports.dashboard(session, today=day, limit=10, zone=zone, workspace_id=ws)
            today_dso = await reports.days_sales_outstanding(
                session, as_of=day, zone=zone, receivable_as_of=summary.aging, workspace_id=ws
            )
            months = await report_snapshots.cash_collected(
                session, grain=reports.Grain.month, end=day, time_zone=zone, workspace_id=ws
            )
            days = await reports.cash_collected(
                session, grain=reports.Grain.day, end=day, time_zone=zone, workspace_id=ws
            )
            failed = await attention.failed_emails(
                session, workspace_id=ws, since=datetime.now(UTC) - timedelta(days=14)
            )
            bounced = await attention.bounced_clients(session, workspace_id=ws)
            to_decide = await attention.refunds_to_decide(session, workspace_id=ws)
    except BaseException:
        closed_points.cancel()  # not left running (nor its error unread) when the main reads fail
        raise
    today_points = [DsoPoint(as_of=day, currency=r.currency, dso_days=r.dso_days) for r in today_dso.rows]
    trend = await closed_points + today_points
    return Overview(
        today=day,
        dashboard=summary,
        cash_months=months,
        cash_days=days,
        dso_trend=trend,
        failed_emails=[
            AttentionEmail(
                invoice_number=number,
                kind=m.kind,
                to_email=m.to_email,
                status=m.status,
                error=m.error,
                updated_at=m.updated_at,
            )
            for m, number in failed
        ],
        bounced_clients=[BouncedClient(external_id=c.external_id, name=c.name, email=c.email) for c in bounced],
        refunds_to_decide=[
            RefundToDecide(
                invoice_number=inv.number,
                client_name=str(inv.buyer.get("name", "")),
                amount_paid_minor=inv.amount_paid_minor,
                currency=inv.currency,
                why=event.message,
                flagged_at=event.occurred_at,
            )
            for event, inv in to_decide
        ],
    )
