"""The inbox: every inbound delivery billflow accepted (booking events, Cal.com webhooks, Stripe and SendGrid
events), verified, then stored once per (source, channel, event key) before it is handled (issue 12, "one
intake"; billflow/repositories/inbox.py claims the rows).

A row whose processed_at is still empty was claimed but its handling did not finish: a booking event's or a
Cal.com delivery's rolls back with its handling, a Stripe or SendGrid event's stays for the provider's retry.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, owned_workspace_fk


class InboxSource(StrEnum):
    booking = "booking"  # POST /v1/events; channel: the integration (or api / api-ws{id}); key: the event id
    calcom = "calcom"  # Cal.com webhooks; channel: the integration; key: "{booking uid}:{trigger}"
    stripe = "stripe"  # channel: '' (the platform's endpoint) or w{id} (a workspace's own keys); key: event id
    sendgrid = "sendgrid"  # channel: ''; key: sg_event_id (or its stand-in, services/email_events.event_key)


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source", "channel", "event_key", name="uq_inbox_events_source_channel_event_key"),
        # Settings > Integrations lists a channel's deliveries newest first a page at a time, and the email sweep
        # reads a provider's newest event: both walk this index backwards from the end.
        Index("ix_inbox_events_source_channel_id", "source", "channel", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Named by the intake (the integration's, the key's or the endpoint's workspace); a row that learns its
    # invoice follows the invoice's workspace (the trigger of migration 0a1b2c3d4e81).
    workspace_id: int = owned_workspace_fk()
    source: str = Field(max_length=32)
    channel: str = Field(default="", max_length=64)
    event_key: str = Field(max_length=255)
    type: str = Field(max_length=100)
    payload: dict[str, Any] = jsonb()
    # Booking events only: a reused event id with a different body is refused.
    payload_sha256: str | None = Field(default=None, max_length=64)
    # What the first delivery was answered (booking events, Cal.com); a repeated delivery gets exactly this back.
    result: dict[str, Any] = jsonb()
    outcome: str | None = Field(default=None, max_length=500)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    # Who delivered a booking event: `integration:{name}` when signed with the integration's secret, else the
    # staff API key's actor (Settings > Integrations shows it as how the delivery was verified).
    sent_by: str | None = Field(default=None, max_length=200)
    received_at: datetime = instant(nullable=False, default_now=True)
    processed_at: datetime | None = instant()
