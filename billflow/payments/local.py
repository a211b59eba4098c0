"""Zero-setup payments: billflow's own pay page (/pay/{token}) records the payment itself."""

from __future__ import annotations


class LocalPaymentProvider:
    name = "local"

    def __init__(self, public_base_url: str) -> None:
        self._base = public_base_url.rstrip("/")

    async def create_payment_link(self, *, invoice_id: int, public_token: str, idempotency_key: str) -> str:
        return f"{self._base}/pay/{public_token}"
