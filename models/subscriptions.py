"""Subscriptions: a client's recurring plan, its plan versions, and the record of each billing period."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, owned_workspace_fk, text_enum, workspace_fk
from models.subscription_io import SUBSCRIPTION_ID_MAX, SubscriptionStatus


class Subscription(SQLModel, table=True):
    """The schedule and terms; the plan lines live in SubscriptionPlan versions."""

    __tablename__ = "subscriptions"

    id: str = Field(primary_key=True, max_length=SUBSCRIPTION_ID_MAX)
    workspace_id: int = workspace_fk()
    client_id: int = Field(foreign_key="clients.id", index=True)
    currency: str = Field(max_length=3)
    interval: dict[str, Any] = jsonb()  # a BillingInterval
    timezone: str = Field(max_length=64)
    start_date: date
    end_date: date | None = None
    max_cycles: int | None = None
    issue_hour: int = 9
    payment_terms_seconds: int = 14 * 86_400
    reminder_policy: dict[str, Any] = jsonb()  # a ReminderPolicy
    memo: str | None = Field(default=None, max_length=2000)
    status: str = text_enum(SubscriptionStatus.active, index=True)
    workflow_id: str = Field(max_length=200, unique=True)
    periods_billed: int = 0
    periods_skipped: int = 0
    next_period_start: date | None = None
    ends_on: date | None = None  # last day of service once cancelled or ended
    paused_at: datetime | None = instant()
    cancelled_at: datetime | None = instant()
    ended_at: datetime | None = instant()
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)


class SubscriptionPlan(SQLModel, table=True):
    """Plan lines effective from a period start on: a change never touches a period already billed."""

    __tablename__ = "subscription_plans"
    __table_args__ = (UniqueConstraint("subscription_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    subscription_id: str = Field(foreign_key="subscriptions.id", index=True, max_length=SUBSCRIPTION_ID_MAX)
    effective_from: date
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))  # LineIn dumps
    created_at: datetime = instant(nullable=False, default_now=True)


class SubscriptionPeriod(SQLModel, table=True):
    """What happened to each period that started: billed (with its invoice workflow) or skipped."""

    __tablename__ = "subscription_periods"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    subscription_id: str = Field(foreign_key="subscriptions.id", index=True, max_length=SUBSCRIPTION_ID_MAX)
    index: int
    period_start: date
    period_end: date
    outcome: str = Field(max_length=16)  # PeriodOutcome
    invoice_workflow_id: str | None = Field(default=None, max_length=300)
    reason: str = Field(default="", max_length=500)
    recorded_at: datetime = instant(nullable=False, default_now=True)
