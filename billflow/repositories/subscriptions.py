"""Queries on subscriptions, their plan versions and billed periods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.columns import utcnow
from models.invoices import Invoice
from models.subscriptions import Subscription, SubscriptionPeriod, SubscriptionPlan


async def get_subscription(
    session: AsyncSession, *, subscription_id: str, for_update: bool = False
) -> Subscription | None:
    query = select(Subscription).where(Subscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_subscriptions(
    session: AsyncSession,
    *,
    workspace_id: int | None = None,
    status: str | None = None,
    client_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[tuple[Subscription, Client]]:
    """Newest first; of one workspace when given (a client's are all of its workspace)."""
    query = select(Subscription, Client).join(Client, col(Client.id) == col(Subscription.client_id))
    if workspace_id is not None:
        query = query.where(Subscription.workspace_id == workspace_id)
    if status is not None:
        query = query.where(Subscription.status == status)
    if client_id is not None:
        query = query.where(Subscription.client_id == client_id)
    query = query.order_by(col(Subscription.created_at).desc()).limit(limit).offset(offset)
    return (await session.exec(query)).all()


async def subscription_workspace(session: AsyncSession, *, subscription_id: str) -> int | None:
    """The workspace of the subscription; None when there is none."""
    query = select(Subscription.workspace_id).where(Subscription.id == subscription_id)
    return (await session.exec(query)).first()


async def plan_effective_on(session: AsyncSession, *, subscription_id: str, day: date) -> SubscriptionPlan | None:
    """The latest plan version that took effect on or before `day`."""
    query = (
        select(SubscriptionPlan)
        .where(SubscriptionPlan.subscription_id == subscription_id, col(SubscriptionPlan.effective_from) <= day)
        .order_by(col(SubscriptionPlan.effective_from).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def list_plans(session: AsyncSession, *, subscription_id: str) -> Sequence[SubscriptionPlan]:
    query = (
        select(SubscriptionPlan)
        .where(SubscriptionPlan.subscription_id == subscription_id)
        .order_by(col(SubscriptionPlan.effective_from))
    )
    return (await session.exec(query)).all()


async def put_plan(
    session: AsyncSession, *, subscription_id: str, effective_from: date, lines: list[dict[str, Any]]
) -> None:
    """One version per effective date: a second change before that period replaces the first."""
    stmt = insert(SubscriptionPlan).values(
        subscription_id=subscription_id, effective_from=effective_from, lines=lines, created_at=utcnow()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[col(SubscriptionPlan.subscription_id), col(SubscriptionPlan.effective_from)],
        set_={"lines": stmt.excluded.lines},
    )
    await session.exec(stmt)  # type: ignore[call-overload]


async def insert_period_once(
    session: AsyncSession,
    *,
    subscription_id: str,
    index: int,
    period_start: date,
    period_end: date,
    outcome: str,
    invoice_workflow_id: str | None,
    reason: str = "",
) -> bool:
    """Record a period's outcome once; True if it was new. A skipped period billed later by a trigger is
    updated to billed (and that counts as new)."""
    stmt = insert(SubscriptionPeriod).values(
        subscription_id=subscription_id,
        index=index,
        period_start=period_start,
        period_end=period_end,
        outcome=outcome,
        invoice_workflow_id=invoice_workflow_id,
        reason=reason,
        recorded_at=utcnow(),
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[col(SubscriptionPeriod.subscription_id), col(SubscriptionPeriod.period_start)],
        set_={"outcome": stmt.excluded.outcome, "invoice_workflow_id": stmt.excluded.invoice_workflow_id},
        where=(col(SubscriptionPeriod.outcome) != stmt.excluded.outcome) & (stmt.excluded.outcome == "billed"),
    ).returning(col(SubscriptionPeriod.id))
    return (await session.exec(upsert)).first() is not None  # type: ignore[call-overload]


async def list_periods(session: AsyncSession, *, subscription_id: str) -> Sequence[SubscriptionPeriod]:
    query = (
        select(SubscriptionPeriod)
        .where(SubscriptionPeriod.subscription_id == subscription_id)
        .order_by(col(SubscriptionPeriod.period_start))
    )
    return (await session.exec(query)).all()


async def list_invoices(session: AsyncSession, *, subscription_id: str) -> Sequence[Invoice]:
    query = select(Invoice).where(Invoice.subscription_id == subscription_id).order_by(col(Invoice.period_start))
    return (await session.exec(query)).all()


async def count_duplicate_periods(session: AsyncSession, *, subscription_ids: Sequence[str] | None = None) -> int:
    """Periods invoiced more than once (what must never happen): the excess invoices."""
    inner = select(col(Invoice.subscription_id), col(Invoice.period_start), func.count().label("n")).where(
        col(Invoice.subscription_id).is_not(None)
    )
    if subscription_ids is not None:
        inner = inner.where(col(Invoice.subscription_id).in_(subscription_ids))
    sub = inner.group_by(col(Invoice.subscription_id), col(Invoice.period_start)).subquery()
    total = (await session.exec(select(func.coalesce(func.sum(sub.c.n - 1), 0)))).one()  # type: ignore[call-overload]
    return int(total)
