"""The catch-up of a subscription created with a past start date is bounded (issue 11, item 8): a daily plan
from 2000 would start about 9,800 invoice workflows from one request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import func, select

from billflow.db import Database
from billflow.services import subscriptions as service
from models.clients import Client
from models.subscription_io import BillingInterval
from models.subscriptions import Subscription
from tests.subscriptions.support import make_subscription


async def _count(db: Database, query: object) -> int:
    async with db.session() as session:
        return int((await session.exec(query)).one())  # type: ignore[call-overload]


async def test_a_backfill_beyond_the_bound_is_refused_naming_start_date_and_stores_nothing(db: Database) -> None:
    data = make_subscription(start_date=date(2000, 1, 1), interval=BillingInterval(kind="weekly"))
    with pytest.raises(service.BackfillTooLong, match="start_date") as err:
        async with db.session() as session:
            await service.create_subscription(session, data=data, max_backfill_periods=12)
    assert err.value.field == "start_date" and "12" in str(err.value)
    assert (
        await _count(db, select(func.count()).select_from(Subscription).where(Subscription.id == data.subscription_id))
        == 0
    )
    ext = data.client.external_id
    assert await _count(db, select(func.count()).select_from(Client).where(Client.external_id == ext)) == 0


async def test_a_backfill_within_the_bound_is_created(db: Database) -> None:
    start = datetime.now(UTC).date() - timedelta(days=80)  # about 3 monthly periods due already
    data = make_subscription(start_date=start, interval=BillingInterval(kind="monthly"))
    async with db.session() as session:
        sub, created = await service.create_subscription(session, data=data, max_backfill_periods=12)
    assert created and sub.id == data.subscription_id


async def test_the_bound_counts_due_periods_not_years(db: Database) -> None:
    start = datetime.now(UTC).date() - timedelta(days=20)  # 21 daily periods due: over a bound of 12
    data = make_subscription(start_date=start, interval=BillingInterval(kind="cron", cron="0 0 * * *"))
    with pytest.raises(service.BackfillTooLong):
        async with db.session() as session:
            await service.create_subscription(session, data=data, max_backfill_periods=12)
