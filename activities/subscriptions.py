"""Database reads and writes of the subscription workflow, and its calendar maths (zoneinfo, croniter), which
cannot run in the workflow sandbox. Each write is keyed, so a retry changes nothing."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from billflow.db import Database
from billflow.services import subscriptions as service
from models.subscription_io import (
    FindPeriodInput,
    NextPeriodInput,
    PeriodBookingInput,
    PeriodCounts,
    PeriodFound,
    RecordPeriodInput,
    SubscriptionChange,
    SubscriptionStatus,
)
from models.workflow_io import BookingIn


def _not_found(err: service.SubscriptionNotFound) -> ApplicationError:
    return ApplicationError(str(err), type="SubscriptionNotFound", non_retryable=True)


class SubscriptionActivities:
    """Run as local activities: short transactions in the worker; their results (period instants, the booking)
    are recorded in history, so replays never recompute them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    async def next_subscription_period(self, data: NextPeriodInput) -> PeriodFound:
        try:
            async with self._db.session() as session:
                period = await service.next_period(
                    session, subscription_id=data.subscription_id, previous=data.previous
                )
        except service.SubscriptionNotFound as err:
            raise _not_found(err) from err
        return PeriodFound(period=period, reason=None if period else "end date or cycle count reached")

    @activity.defn
    async def find_subscription_period(self, data: FindPeriodInput) -> PeriodFound:
        try:
            async with self._db.session() as session:
                period, reason = await service.find_period(
                    session,
                    subscription_id=data.subscription_id,
                    period_start=data.period_start,
                    not_after=data.not_after,
                )
        except service.SubscriptionNotFound as err:
            raise _not_found(err) from err
        return PeriodFound(period=period, reason=reason)

    @activity.defn
    async def subscription_period_booking(self, data: PeriodBookingInput) -> BookingIn:
        try:
            async with self._db.session() as session:
                return await service.period_booking(session, subscription_id=data.subscription_id, period=data.period)
        except service.SubscriptionNotFound as err:
            raise _not_found(err) from err

    @activity.defn
    async def record_subscription_period(self, data: RecordPeriodInput) -> PeriodCounts:
        try:
            async with self._db.session() as session:
                return await service.record_period(session, data=data)
        except service.SubscriptionNotFound as err:
            raise _not_found(err) from err

    @activity.defn
    async def apply_subscription_change(self, change: SubscriptionChange) -> SubscriptionStatus:
        try:
            async with self._db.session() as session:
                return await service.apply_change(session, change=change)
        except service.SubscriptionNotFound as err:
            raise _not_found(err) from err
