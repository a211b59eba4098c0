"""Stripe payments: billflow's own stable pay URL in every email, Stripe Checkout Sessions behind it.

A Checkout Session expires within 24 hours, so the emailed link is never one: it is /pay/{token}, and each visit
reuses the invoice's open session or opens a new one (billflow.services.checkout). This module is the thin,
typed wrapper over the official client (StripeClient, v1 API, async over httpx) that the service calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stripe

if TYPE_CHECKING:
    from billflow.secret_box import SecretBox

log = logging.getLogger(__name__)


class StripeUnavailable(Exception):
    """429, 5xx or no answer: transient; an activity retry policy (or the client on its next visit) tries again.

    `status` is None when no answer came. Either way the request may have been applied, so the next try uses the
    same idempotency key: Stripe then replays what it did. Only a replayed 5xx (`replayed`, Stripe's
    Idempotent-Replayed header) means the key is spent: Stripe saved that failure and will answer it forever.
    """

    def __init__(self, message: str, *, status: int | None = None, replayed: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.replayed = replayed


class StripeRejected(Exception):
    """A 4xx other than 429: Stripe refused the request; retrying the same request cannot help.

    The message is Stripe's own, so staff see what to fix (e.g. an amount below the currency's minimum).
    """

    def __init__(self, message: str, *, status: int | None, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class SessionSnapshot:
    """What billflow needs to know about a Checkout Session, decoupled from the library's objects."""

    id: str
    url: str | None
    status: str  # open, complete, expired
    payment_status: str  # paid, unpaid, no_payment_required
    amount_total: int
    currency: str  # ISO 4217, upper case
    payment_intent_id: str | None
    expires_at: datetime | None
    metadata: dict[str, str]

    @classmethod
    def from_stripe(cls, session: Any) -> SessionSnapshot:
        data = session if isinstance(session, dict) else session.to_dict()
        intent = data.get("payment_intent")
        if isinstance(intent, dict):
            intent = intent.get("id")
        expires = data.get("expires_at")
        return cls(
            id=data["id"],
            url=data.get("url"),
            status=data.get("status") or "open",
            payment_status=data.get("payment_status") or "unpaid",
            amount_total=int(data.get("amount_total") or 0),
            currency=str(data.get("currency") or "").upper(),
            payment_intent_id=intent,
            expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        )


@dataclass(frozen=True)
class RefundSnapshot:
    """A Refund as billflow needs it: its charge's cumulative amount refunded is what refunds are recorded by
    (the same figure `charge.refunded` webhooks carry), so the webhook and the staff action record it once."""

    id: str
    status: str  # pending, succeeded, failed, canceled, requires_action
    amount: int
    currency: str  # ISO 4217, upper case
    charge_id: str
    charge_amount_refunded: int
    failure_reason: str | None

    @classmethod
    def from_stripe(cls, refund: Any) -> RefundSnapshot:
        data = refund if isinstance(refund, dict) else refund.to_dict()
        charge = data.get("charge")
        charge_data = charge if isinstance(charge, dict) else {"id": charge}
        return cls(
            id=data["id"],
            status=data.get("status") or "pending",
            amount=int(data.get("amount") or 0),
            currency=str(data.get("currency") or "").upper(),
            charge_id=str(charge_data.get("id") or ""),
            # Not expanded: only this refund is known to be on the charge.
            charge_amount_refunded=int(charge_data.get("amount_refunded") or data.get("amount") or 0),
            failure_reason=data.get("failure_reason"),
        )


def _header(err: stripe.StripeError, name: str) -> str | None:
    headers = err.headers or {}
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def _translate(err: stripe.StripeError) -> Exception:
    status = err.http_status
    if isinstance(err, stripe.APIConnectionError) or status is None:
        return StripeUnavailable(f"Stripe did not answer: {err.user_message or err}")
    if isinstance(err, stripe.RateLimitError) or status == 429 or status >= 500:
        replayed = str(_header(err, "Idempotent-Replayed")).lower() == "true"
        return StripeUnavailable(
            f"Stripe unavailable ({status}): {err.user_message or err}", status=status, replayed=replayed
        )
    message = err.user_message or str(err)
    return StripeRejected(message, status=status, code=err.code)


class StripeGateway:
    """The Checkout Session calls billflow makes; every write carries the caller's stable idempotency key."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        timeout_seconds: float = 20.0,
        max_network_retries: int = 0,
        secrets: SecretBox | None = None,
    ) -> None:
        # Every write passes our own idempotency key (the library's random one would make a retried create a
        # second session), so the library's in-request retries and an activity's retries are both safe.
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.HTTPXClient(timeout=timeout_seconds),
            max_network_retries=max_network_retries,
        )
        self._account: str | None = None
        self._api_key: str | None = None  # a workspace's own key; None: the installation's
        self.secrets = secrets  # opens a workspace's sealed own key (billflow/services/stripe_accounts.py)

    @property
    def account(self) -> str | None:
        return self._account

    def on_account(self, account: str | None) -> StripeGateway:
        """The same client acting on a workspace's connected account (Stripe Connect: every call sends the
        Stripe-Account header); None is the platform's own account, the installation's default."""
        if account == self._account and self._api_key is None:
            return self
        return self._scoped(account=account, api_key=None)

    def with_key(self, api_key: str) -> StripeGateway:
        """The same client calling with a workspace's own secret key (its own Stripe account, not Connect):
        the key is sent per request, so every workspace shares one connection pool."""
        return self._scoped(account=None, api_key=api_key)

    def _scoped(self, *, account: str | None, api_key: str | None) -> StripeGateway:
        scoped = object.__new__(StripeGateway)
        scoped._client = self._client  # one connection pool for every account
        scoped._account = account
        scoped._api_key = api_key
        scoped.secrets = self.secrets
        return scoped

    def _options(self, idempotency_key: str | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        if self._account:
            options["stripe_account"] = self._account
        if self._api_key:
            options["api_key"] = self._api_key
        return options

    async def create_session(self, params: dict[str, Any], *, idempotency_key: str) -> SessionSnapshot:
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                options=self._options(idempotency_key),  # type: ignore[arg-type]
            )
        except stripe.StripeError as err:
            raise _translate(err) from err
        return SessionSnapshot.from_stripe(session)

    async def retrieve_session(self, session_id: str) -> SessionSnapshot:
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(
                session_id,
                options=self._options(),  # type: ignore[arg-type]
            )
        except stripe.StripeError as err:
            raise _translate(err) from err
        return SessionSnapshot.from_stripe(session)

    async def expire_session(self, session_id: str, *, idempotency_key: str) -> SessionSnapshot:
        try:
            session = await self._client.v1.checkout.sessions.expire_async(
                session_id,
                options=self._options(idempotency_key),  # type: ignore[arg-type]
            )
        except stripe.StripeError as err:
            raise _translate(err) from err
        return SessionSnapshot.from_stripe(session)

    async def create_refund(
        self, *, payment_intent_id: str, amount_minor: int, metadata: dict[str, str], idempotency_key: str
    ) -> RefundSnapshot:
        """Refund part or all of a payment; the charge comes back expanded with its cumulative refunded amount."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": amount_minor,
            "reason": "requested_by_customer",
            "metadata": metadata,
            "expand": ["charge"],
        }
        try:
            refund = await self._client.v1.refunds.create_async(
                params,  # type: ignore[arg-type]
                options=self._options(idempotency_key),  # type: ignore[arg-type]
            )
        except stripe.StripeError as err:
            raise _translate(err) from err
        return RefundSnapshot.from_stripe(refund)


class StripePaymentProvider:
    """The payment link of an invoice is billflow's stable pay URL; the Checkout Session is made on each visit."""

    name = "stripe"

    def __init__(self, public_base_url: str) -> None:
        self._base = public_base_url.rstrip("/")

    async def create_payment_link(self, *, invoice_id: int, public_token: str, idempotency_key: str) -> str:
        return f"{self._base}/pay/{public_token}"


def build_stripe_gateway(
    api_key: str | None,
    *,
    api_base: str | None = None,
    max_network_retries: int = 0,
    secrets: SecretBox | None = None,
) -> StripeGateway:
    """Activities keep the default 0 (their retry policy retries); the pay page passes a couple of quick
    in-request retries so one Stripe blip does not show the client an error page (same idempotency key)."""
    if not api_key:
        raise ValueError("BILLFLOW_PAYMENT_BACKEND=stripe needs STRIPE_API_KEY")
    return StripeGateway(api_key, api_base=api_base, max_network_retries=max_network_retries, secrets=secrets)
