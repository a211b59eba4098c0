"""Booking events received from integrations, stored once per (integration, event id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb


class BookingEvent(SQLModel, table=True):
    __tablename__ = "booking_events"
    __table_args__ = (UniqueConstraint("integration", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    integration: str = Field(max_length=64)
    event_id: str = Field(max_length=120)
    type: str = Field(max_length=64)
    version: int = 1
    booking_id: str = Field(max_length=120, index=True)
    payload: dict[str, Any] = jsonb()
    # What the first delivery was answered; a repeated delivery gets exactly this back.
    result: dict[str, Any] = jsonb()
    received_at: datetime = instant(nullable=False, default_now=True)
    processed_at: datetime | None = instant()
