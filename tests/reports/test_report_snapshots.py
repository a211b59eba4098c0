"""The overview's DSO trend: closed days come from their snapshot while nothing dated before their end changed,
and always equal the figures computed afresh."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import make_url, text
from sqlmodel import select

from billflow.db import Database
from billflow.services import report_snapshots, reports
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.payments import Payment
from tests.reports.dataset import AS_OF, at, load_known_dataset


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[Database]:
    """A database of this test's own: the tests add payments and voids, which would move other tests' figures."""
    url = make_url(database_url)
    name = f"billflow_snapshots_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = Database(url.set(database=name).render_as_string(hide_password=False), pool_size=2)
    try:
        await database.create_schema()
        async with database.session() as session:
            await load_known_dataset(session)
        yield database
    finally:
        await database.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _trend_point(db: Database) -> reports.DsoReport:
    async with db.session() as session:
        return await report_snapshots.days_sales_outstanding(session, as_of=AS_OF)


async def _afresh(db: Database) -> reports.DsoReport:
    async with db.session() as session:
        return await reports.days_sales_outstanding(session, as_of=AS_OF)


async def _mark_snapshot(db: Database) -> None:
    """Write a marker into the stored payload: seen again only if the snapshot is reused."""
    async with db.session() as session:
        await session.execute(text("UPDATE report_snapshots SET payload = jsonb_set(payload, '{days}', '91')"))


async def _pay(db: Database, received_at: datetime) -> None:
    """100 minor units paid on an overdue invoice, as billing records it: the payment and the invoice's total."""
    async with db.session() as session:
        invoice = (await session.exec(select(Invoice).where(Invoice.status == "overdue"))).first()
        assert invoice is not None
        invoice.amount_paid_minor += 100
        session.add(invoice)
        session.add(
            Payment(
                invoice_id=invoice.id or 0, client_id=invoice.client_id, provider="manual",
                provider_reference=uuid.uuid4().hex, amount_minor=100, currency=invoice.currency,
                received_at=received_at,
            )
        )  # fmt: skip


async def test_a_closed_day_is_computed_once_and_reused(ledger: Database) -> None:
    first = await _trend_point(ledger)
    assert first == await _afresh(ledger)
    await _mark_snapshot(ledger)
    assert (await _trend_point(ledger)).days == 91


async def test_a_payment_received_after_the_day_keeps_the_snapshot_and_its_figures(ledger: Database) -> None:
    before = await _trend_point(ledger)
    await _mark_snapshot(ledger)
    await _pay(ledger, datetime.now(UTC))
    assert (await _trend_point(ledger)).days == 91  # reused
    assert (await _afresh(ledger)).rows == before.rows  # and rightly: the day's figures did not move


async def test_a_back_dated_payment_recomputes_the_day(ledger: Database) -> None:
    before = await _trend_point(ledger)
    await _mark_snapshot(ledger)
    await _pay(ledger, at(AS_OF - timedelta(days=1)))
    after = await _trend_point(ledger)
    assert after == await _afresh(ledger) and after.days == 90
    assert after.rows != before.rows


async def test_voiding_an_invoice_of_the_period_recomputes_the_day(ledger: Database) -> None:
    before = await _trend_point(ledger)
    await _mark_snapshot(ledger)
    async with ledger.session() as session:
        await session.execute(
            text(
                "UPDATE invoices SET status = 'void', voided_at = now() WHERE id = (SELECT min(id) FROM invoices"
                " WHERE status = 'open' AND issued_at < :end AND issue_date > :start)"
            ),
            {"end": at(AS_OF), "start": AS_OF - timedelta(days=80)},
        )
    after = await _trend_point(ledger)
    assert after == await _afresh(ledger) and after.days == 90
    assert after.rows != before.rows


async def test_today_is_always_computed(ledger: Database) -> None:
    async with ledger.session() as session:
        today = await report_snapshots.days_sales_outstanding(session, as_of=datetime.now(UTC).date())
        stored = (await session.execute(text("SELECT count(*) FROM report_snapshots"))).scalar()
    assert today.as_of == datetime.now(UTC).date() and stored == 0


async def test_cash_by_month_joins_the_closed_months_snapshot_and_the_current_month(ledger: Database) -> None:
    this_month = datetime.now(UTC).date().replace(day=1)
    await _pay(ledger, at(this_month - timedelta(days=40)))  # a closed month
    await _pay(ledger, datetime.now(UTC))  # this month
    async with ledger.session() as session:
        first = await report_snapshots.cash_collected(session, grain=reports.Grain.month)
        afresh = await reports.cash_collected(session, grain=reports.Grain.month)
        stored = (await session.execute(text("SELECT count(*) FROM report_snapshots WHERE kind = 'cash'"))).scalar()
    assert first == afresh and stored == 1
    await _pay(ledger, datetime.now(UTC))  # this month moves; the closed months' snapshot still holds
    await _pay(ledger, at(this_month - timedelta(days=3)))  # back-dated into a closed month: recomputed
    async with ledger.session() as session:
        again = await report_snapshots.cash_collected(session, grain=reports.Grain.month)
        afresh = await reports.cash_collected(session, grain=reports.Grain.month)
    assert again == afresh and again != first


async def _reminder(db: Database, sent_at: datetime, step: int) -> None:
    async with db.session() as session:
        invoice = (await session.exec(select(Invoice).where(Invoice.status == "overdue"))).first()
        assert invoice is not None
        session.add(
            EmailMessage(
                idempotency_key=uuid.uuid4().hex, invoice_id=invoice.id, client_id=invoice.client_id,
                kind="reminder", reminder_step=step, to_email="c@example.com", subject="Reminder", body_text=".",
                backend="outbox", status="sent", sent_at=sent_at,
            )
        )  # fmt: skip


async def test_effectiveness_adds_the_settled_snapshot_and_the_recent_days(ledger: Database) -> None:
    now = datetime.now(UTC)
    await _reminder(ledger, now - timedelta(days=40), step=1)  # settled: its 7 days are over
    await _reminder(ledger, now - timedelta(days=2), step=2)  # recent: read afresh every time
    window = {"start": now.date() - timedelta(days=120)}
    async with ledger.session() as session:
        split = await report_snapshots.reminder_effectiveness(session, **window)
        afresh = await reports.reminder_effectiveness(session, **window)
        stored = (await session.execute(text("SELECT count(*) FROM report_snapshots"))).scalar()
    assert split == afresh and stored == 1
    assert sum(r.reminded for r in split.rows) >= 2
    await _reminder(ledger, now - timedelta(days=30), step=3)  # back-dated into the settled part: recomputed
    async with ledger.session() as session:
        again = await report_snapshots.reminder_effectiveness(session, **window)
        afresh = await reports.reminder_effectiveness(session, **window)
    assert again == afresh and again != split
