"""Payment providers behind one small interface; the backend is chosen by configuration, never silently."""

from __future__ import annotations

import logging

from billflow.config import PaymentBackend, Settings
from billflow.payments.base import PaymentProvider

log = logging.getLogger(__name__)


def build_payment_provider(settings: Settings) -> PaymentProvider:
    backend = settings.payment_backend
    log.info("payment backend: %s", backend.value)
    if backend is PaymentBackend.local:
        from billflow.payments.local import LocalPaymentProvider

        return LocalPaymentProvider(settings.public_base_url)
    raise NotImplementedError(f"payment backend {backend.value!r} is not available yet")
