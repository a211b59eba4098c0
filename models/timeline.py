"""Append-only timeline of what happened to a client and their invoices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, workspace_fk


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_client_time", "client_id", "occurred_at"),
        # The overview's "refunds to decide": the few events flagged for a refund decision, without a scan.
        Index(
            "ix_timeline_refund_decisions",
            "occurred_at",
            postgresql_where=text("(data ->> 'flag') = 'refund_decision'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()  # its client's workspace
    client_id: int = Field(foreign_key="clients.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    kind: str = Field(max_length=64)  # invoice.issued, payment.received, email.sent, action.rejected, ...
    message: str = Field(default="", max_length=2000)
    data: dict[str, Any] = jsonb()
    # Set by activities so a retried write lands once.
    idempotency_key: str | None = Field(default=None, max_length=300, unique=True)
    occurred_at: datetime = instant(nullable=False, default_now=True)
