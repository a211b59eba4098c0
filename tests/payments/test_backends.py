"""Backends are chosen by configuration only, and the choice is logged."""

from __future__ import annotations

import logging

import pytest

from billflow.config import EmailBackend, PaymentBackend, Settings
from billflow.email import build_email_sender
from billflow.payments import build_payment_provider


def test_stripe_backend_is_explicit_and_logged(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with_key = settings.model_copy(update={"stripe_api_key": "sk_test_x"})
    assert build_payment_provider(with_key).name == "local"  # a key alone switches nothing
    assert "BILLFLOW_PAYMENT_BACKEND=local" in caplog.text
    stripe_settings = with_key.model_copy(
        update={"payment_backend": PaymentBackend.stripe, "stripe_webhook_secret": "whsec_x"}
    )
    assert build_payment_provider(stripe_settings).name == "stripe"
    assert "payment backend: stripe" in caplog.text
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        build_payment_provider(settings.model_copy(update={"payment_backend": PaymentBackend.stripe}))


async def test_stripe_pay_link_is_billflows_own_url(settings: Settings) -> None:
    provider = build_payment_provider(
        settings.model_copy(update={"payment_backend": PaymentBackend.stripe, "stripe_api_key": "sk_test_x"})
    )
    url = await provider.create_payment_link(invoice_id=1, public_token="tok", idempotency_key="k")
    assert url == "http://billflow.test/pay/tok"


def test_email_backends_are_explicit(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert build_email_sender(settings.model_copy(update={"sendgrid_api_key": "SG.x"})).name == "outbox"
    assert "BILLFLOW_EMAIL_BACKEND=outbox" in caplog.text
    sendgrid = settings.model_copy(update={"email_backend": EmailBackend.sendgrid, "sendgrid_api_key": "SG.x"})
    assert build_email_sender(sendgrid).name == "sendgrid"
    assert build_email_sender(settings.model_copy(update={"email_backend": EmailBackend.smtp})).name == "smtp"
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        build_email_sender(settings.model_copy(update={"email_backend": EmailBackend.sendgrid}))
