"""Payment links from the configured provider, stored on the invoice."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col
from temporalio import activity

from billflow.db import Database
from billflow.payments.base import PaymentProvider
from models.invoices import Invoice
from models.workflow_io import PaymentLink, PaymentLinkInput


class PaymentActivities:
    def __init__(self, db: Database, provider: PaymentProvider) -> None:
        self._db = db
        self._provider = provider

    @activity.defn
    async def create_payment_link(self, data: PaymentLinkInput) -> PaymentLink:
        url = await self._provider.create_payment_link(
            invoice_id=data.invoice_id,
            public_token=data.public_token,
            idempotency_key=f"{data.workflow_id}:payment-link",
        )
        async with self._db.session() as session:
            await session.exec(update(Invoice).where(col(Invoice.id) == data.invoice_id).values(payment_url=url))  # type: ignore[call-overload]
        return PaymentLink(url=url)
