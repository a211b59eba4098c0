"""Every webhook delivery billflow accepted (Stripe events, SendGrid events), stored once by provider event id.

A row whose processed_at is still empty was stored but failed to apply: the provider's retry applies it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, owned_workspace_fk


class WebhookEvent(SQLModel, table=True):
    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    provider: str = Field(max_length=32)  # stripe, sendgrid
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=100, index=True)
    payload: dict[str, Any] = jsonb()
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    outcome: str | None = Field(default=None, max_length=500)
    received_at: datetime = instant(nullable=False, default_now=True)
    processed_at: datetime | None = instant()
