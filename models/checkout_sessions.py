"""Stripe Checkout Sessions opened for invoices: one row per attempt, so a pay-URL visit can reuse the open one.

A session expires within 24 hours on Stripe, so the emailed link is billflow's own /pay/{token}; each visit
reuses the latest open session or opens the next attempt (and expires the superseded one).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, minor_units, owned_workspace_fk, text_enum


class CheckoutSessionStatus:
    """Stripe's own session statuses, kept verbatim (they name Stripe objects, not invoice states)."""

    open = "open"
    complete = "complete"
    expired = "expired"
    # billflow's own: Stripe answered the create with a 5xx, which it saves under the idempotency key; the
    # attempt is used up so the next visit creates with a new key. stripe_session_id is "failed:<key>".
    failed = "failed"


class CheckoutSession(SQLModel, table=True):
    __tablename__ = "checkout_sessions"
    __table_args__ = (UniqueConstraint("invoice_id", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    attempt: int  # 1, 2, ...: part of the idempotency key of the create call
    stripe_session_id: str = Field(max_length=255, unique=True)
    url: str | None = Field(default=None, max_length=2000)
    amount_minor: int = minor_units()
    currency: str = Field(max_length=3)
    status: str = text_enum(CheckoutSessionStatus.open, index=True)
    payment_status: str = Field(default="unpaid", max_length=32)
    payment_intent_id: str | None = Field(default=None, max_length=255, index=True)
    # The Stripe Connect account it was created on (None: the platform's own): every later call goes there too.
    stripe_account: str | None = Field(default=None, max_length=255)
    # Or the workspace whose own Stripe keys created it (issue 13.4): later calls use that workspace's key.
    stripe_keys_workspace_id: int | None = Field(default=None)
    expires_at: datetime | None = instant()
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)
