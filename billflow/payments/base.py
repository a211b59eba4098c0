from __future__ import annotations

from typing import Protocol


class PaymentProvider(Protocol):
    name: str

    async def create_payment_link(self, *, invoice_id: int, public_token: str, idempotency_key: str) -> str:
        """A stable URL the client can pay at, for as long as the invoice is open."""
        ...
