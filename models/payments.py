"""Payments and refunds, unique per provider reference so a replayed webhook or signal records nothing new."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, minor_units, text_enum, workspace_fk
from models.enums import PaymentKind


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_reference"),
        # Cash collected sums payments by receipt time, and aging as of a past date adds back later payments:
        # both become index-only range scans on received_at.
        Index(
            "ix_payments_received_cover",
            "received_at",
            postgresql_include=["invoice_id", "currency", "kind", "amount_minor"],
        ),
        # The same per workspace (issue 13): one workspace's cash collected reads only its own payments.
        Index(
            "ix_payments_ws_received_cover",
            "workspace_id",
            "received_at",
            postgresql_include=["invoice_id", "currency", "kind", "amount_minor"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    client_id: int = Field(foreign_key="clients.id", index=True)
    kind: str = text_enum(PaymentKind.payment)
    provider: str = Field(max_length=32)  # local, stripe, manual, calcom
    provider_reference: str = Field(max_length=200)
    amount_minor: int = minor_units()
    currency: str = Field(max_length=3)
    method: str = Field(default="card", max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    # A refund names the payment it gives money back from (None on payments, and on refunds whose payment
    # billflow cannot tell), so what is left to refund is known per payment.
    refund_of_payment_id: int | None = Field(default=None, foreign_key="payments.id", index=True)
    received_at: datetime = instant(nullable=False, index=True)
    created_at: datetime = instant(nullable=False, default_now=True)
