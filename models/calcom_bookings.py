"""Cal.com bookings billflow has seen (the deliveries themselves are stored once in the inbox, models/inbox.py).

Cal.com gives a rescheduled booking a new uid that refers to the old one (`rescheduleUid`); every uid maps to the
root booking whose invoice it shares, so a reschedule never makes a second invoice. Each (booking uid, trigger)
is processed once: Cal.com retries deliveries and may send one more than once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, owned_workspace_fk


class CalcomBooking(SQLModel, table=True):
    __tablename__ = "calcom_bookings"
    __table_args__ = (UniqueConstraint("integration", "uid"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    integration: str = Field(max_length=64)
    uid: str = Field(max_length=120)
    # The first booking of the chain: its uid is the invoice's booking id (invoice-{integration}-{root_uid}).
    root_uid: str = Field(max_length=120, index=True)
    # Set when the booking was rescheduled to a newer uid; a late cancellation of this uid voids nothing.
    superseded_by: str | None = Field(default=None, max_length=120)
    start_time: datetime | None = instant()
    created_at: datetime = instant(nullable=False, default_now=True)
