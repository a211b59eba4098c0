"""Payment providers behind one small interface; the backend is chosen by configuration, never silently."""

from __future__ import annotations

import logging

from billflow.config import PaymentBackend, Settings
from billflow.payments.base import PaymentProvider

log = logging.getLogger(__name__)


def build_payment_provider(settings: Settings) -> PaymentProvider:
    backend = settings.payment_backend
    log.info("payment backend: %s", backend.value)
    if backend is PaymentBackend.local and settings.stripe_api_key:
        log.warning("STRIPE_API_KEY is set but BILLFLOW_PAYMENT_BACKEND=local: set it to stripe to take real payments")
    if backend is PaymentBackend.local:
        from billflow.payments.local import LocalPaymentProvider

        return LocalPaymentProvider(settings.public_base_url)
    if backend is PaymentBackend.stripe:
        from billflow.payments.stripe import StripePaymentProvider

        if not settings.stripe_api_key:
            raise ValueError("BILLFLOW_PAYMENT_BACKEND=stripe needs STRIPE_API_KEY (and STRIPE_WEBHOOK_SECRET)")
        if not settings.stripe_webhook_secret:
            log.warning("STRIPE_WEBHOOK_SECRET is unset: Stripe webhooks will be rejected")
        log.info(
            "stripe: pay links at %s/pay/{token}, API %s",
            settings.public_base_url,
            settings.stripe_api_base or "api.stripe.com",
        )
        return StripePaymentProvider(settings.public_base_url)
    raise NotImplementedError(f"payment backend {backend.value!r} is not available yet")
