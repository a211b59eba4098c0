"""Stripe tests: the official client against the local stand-in, the app with the Stripe backend."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import PaymentBackend, Settings
from billflow.db import Database
from tests.standins.fixtures import running_worker, stripe_api, web_client
from tests.standins.stripe_api import StripeStandIn

__all__ = ["stripe_api"]

WEBHOOK_SECRET = "whsec_test_billflow"


@pytest.fixture
def stripe_settings(settings: Settings, stripe_api: tuple[StripeStandIn, str]) -> Settings:
    return settings.model_copy(
        update={
            "payment_backend": PaymentBackend.stripe,
            "stripe_api_key": "sk_test_billflow",
            "stripe_api_base": stripe_api[1],
            "stripe_webhook_secret": WEBHOOK_SECRET,
        }
    )


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, db: Database, stripe_settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(time_env.client, db, stripe_settings) as running:
        yield running


@pytest.fixture
async def http(
    stripe_settings: Settings, db: Database, time_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(stripe_settings, db, time_env.client) as client:
        yield client


def stripe_event(kind: str, obj: dict[str, Any], *, event_id: str, created: int | None = None) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created or int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def signed(event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    """The raw body and its Stripe-Signature header, made with Stripe's own algorithm."""
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=at if at is not None else int(time.time())
    )
    return body, header


async def deliver(http: httpx.AsyncClient, event: dict[str, Any], **sign: Any) -> httpx.Response:
    body, header = signed(event, **sign)
    return await http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )
