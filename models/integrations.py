"""Booking-system integrations: each signs its event deliveries with its own secret."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.columns import instant


class Integration(SQLModel, table=True):
    __tablename__ = "integrations"

    id: int | None = Field(default=None, primary_key=True)
    # Also the `source` of the bookings it posts: workflow ids are invoice-{name}-{booking_id}.
    name: str = Field(max_length=64, unique=True)
    # The HMAC key itself (it must be recoverable to verify signatures; it is never logged or listed).
    secret: str = Field(max_length=200)
    created_at: datetime = instant(nullable=False, default_now=True)
    disabled_at: datetime | None = instant()
    # When the secret was last replaced: the previous one is refused from that instant (no overlap).
    secret_rotated_at: datetime | None = instant()
