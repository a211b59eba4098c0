"""One rule for "today" (issue 11, item 12): the business's reporting time zone, whatever each client's own zone.

Clients in UTC-10 (Pacific/Honolulu) and UTC+14 (Pacific/Kiritimati) get invoices issued through the real
issue_invoice service at several instants of a day; aging, DSO, `client list` balances and the dashboard's
outstanding must agree at that instant, and an invoice whose due instant has passed is past due in every view.
Each case has a currency of its own, so invoices of other tests in the shared database change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from billflow.db import Database
from billflow.reporting import today_in
from billflow.repositories import invoices as invoices_repo
from billflow.repositories.invoices import InvoiceFilter
from billflow.services import clients as clients_service
from billflow.services import reports
from billflow.services.invoicing import issue_invoice
from models.enums import InvoiceStatus
from models.workflow_io import LineIn
from tests.factories import make_booking, make_client

DAY = datetime(2026, 12, 1, tzinfo=UTC)
INSTANTS = [DAY.replace(hour=0, minute=30), DAY.replace(hour=10), DAY.replace(hour=23, minute=30)]
CASES = [
    (instant, zone, currency)
    for (instant, zone), currency in zip(
        [(i, z) for z in ("UTC", "Asia/Tokyo") for i in INSTANTS],
        ["FJD", "TOP", "WST", "XPF", "VUV", "SBD"],
        strict=True,
    )
]


async def _issue(db: Database, *, timezone: str, currency: str, issued_at: datetime, amount: int) -> str:
    booking = make_booking(
        client=make_client(timezone=timezone),
        currency=currency,
        lines=[LineIn(description="Session", unit_price_minor=amount)],
        payment_terms=timedelta(days=14),
        issued_at=issued_at,
    )
    async with db.session() as session:
        await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
    return booking.client.external_id


@pytest.mark.parametrize(("instant", "zone", "currency"), CASES, ids=[f"{c[0]:%H%M}Z-{c[1]}" for c in CASES])
async def test_reports_lists_and_dashboard_agree_for_clients_either_side_of_utc(
    db: Database, instant: datetime, zone: str, currency: str
) -> None:
    clients = []
    # Issued just now (client-local issue dates differ by up to a day), and 20 days ago (past due by now).
    for timezone, amount in (("Pacific/Honolulu", 1_000), ("Pacific/Kiritimati", 2_000)):
        clients.append(await _issue(db, timezone=timezone, currency=currency, issued_at=instant, amount=amount))
        clients.append(
            await _issue(
                db, timezone=timezone, currency=currency, issued_at=instant - timedelta(days=20), amount=amount * 10
            )
        )
    await _mark_overdue_as_the_workflow_does(db, currency=currency, now=instant)
    owed = 1_000 + 2_000 + 10_000 + 20_000
    today = today_in(zone, now=instant)

    async with db.session() as session:
        aging = next(r for r in (await reports.aging(session, as_of=today, zone=zone)).rows if r.currency == currency)
        dso = next(
            r
            for r in (await reports.days_sales_outstanding(session, as_of=today, zone=zone)).rows
            if r.currency == currency
        )
        dashboard = await reports.dashboard(session, today=today, zone=zone, limit=200)
        listed = await clients_service.list_clients(session, limit=1000, zone=zone)
        late_listed, _ = await invoices_repo.search_invoices(
            session, where=InvoiceFilter(currency=currency, overdue_days=1, today=today, zone=zone)
        )
        issued_today, _ = await invoices_repo.search_invoices(
            session, where=InvoiceFilter(currency=currency, issued_from=today, issued_to=today, zone=zone)
        )

    dash_aging = next(r for r in dashboard.aging.rows if r.currency == currency)
    balances = [b for c in listed if c.external_id in clients for b in c.balances if b.currency == currency]
    assert aging.total_minor == owed
    assert aging.invoice_count == 4
    assert dso.receivable_minor == owed
    assert dso.sales_minor == owed  # all four were issued within the last 90 reporting days
    assert dash_aging.total_minor == owed
    assert sum(b.balance_minor for b in balances) == owed
    # The 20-day-old invoices are past due everywhere: aging buckets, client overdue balances, the dashboard.
    assert aging.current_minor == 1_000 + 2_000
    assert sum(b.overdue_minor for b in balances) == 10_000 + 20_000
    late = [i for i in dashboard.overdue if i.currency == currency]
    assert sorted(i.total_minor for i in late) == [10_000, 20_000]
    assert all(i.days_past_due >= 1 for i in late)
    # The staff invoice list agrees: the same two are at least a day past due, the other two issued today.
    assert sorted(i.total_minor for i, _ in late_listed) == [10_000, 20_000]
    assert sorted(i.total_minor for i, _ in issued_today) == [1_000, 2_000]


async def _mark_overdue_as_the_workflow_does(db: Database, *, currency: str, now: datetime) -> None:
    async with db.session() as session:
        await session.execute(
            text("UPDATE invoices SET status = :overdue, overdue_at = due_at WHERE currency = :c AND due_at < :now"),
            {"overdue": InvoiceStatus.overdue.value, "c": currency, "now": now},
        )
