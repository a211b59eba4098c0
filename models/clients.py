"""Clients: upserted from the booking system's external id."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.columns import instant


class Client(SQLModel, table=True):
    __tablename__ = "clients"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=200, unique=True, index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, index=True)
    timezone: str = Field(default="UTC", max_length=64)
    email_bounced: bool = False
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)
