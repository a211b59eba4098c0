"""Throttling per client address: failed authentications and unknown page tokens spend a budget; over it the
address gets 429 with Retry-After; successful requests and other addresses are not affected."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.services.api_keys import NewApiKey, create_key
from billflow.web.app import create_app
from models.api_keys import ApiRole
from tests.email.conftest import EventSigner

BUDGET = 5
Throttled = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def throttled(settings: Settings, db: Database, time_env: WorkflowEnvironment) -> Throttled:
    """Clients of one app (a budget of 5 failures a minute), each from the client address given."""
    limited = settings.model_copy(
        update={
            "auth_failure_limit": f"{BUDGET}/minute",
            "stripe_webhook_secret": "whsec_throttle",
            "sendgrid_event_public_key": EventSigner().public_key,
        }
    )
    app = create_app(limited, db, time_env.client)

    @asynccontextmanager
    async def from_address(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://billflow.test") as http:
            yield http

    return from_address


@pytest.fixture
async def viewer_key(db: Database) -> str:
    return (await create_key(db, NewApiKey(name="throttle viewer", role=ApiRole.viewer))).token


def _wrong_key() -> dict[str, str]:
    return {"Authorization": f"Bearer bf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"}


async def test_wrong_keys_beyond_the_budget_get_429_with_retry_after(throttled: Throttled, viewer_key: str) -> None:
    async with throttled("198.51.100.1") as attacker, throttled("198.51.100.2") as staff:
        statuses = [(await attacker.get("/v1/invoices", headers=_wrong_key())).status_code for _ in range(BUDGET + 3)]
        assert statuses == [401] * BUDGET + [429] * 3
        refused = await attacker.get("/v1/invoices", headers={"Authorization": f"Bearer {viewer_key}"})
        assert refused.status_code == 429  # the address is refused before its key is looked at
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await staff.get("/v1/invoices", headers={"Authorization": f"Bearer {viewer_key}"})).status_code == 200


async def test_successful_requests_spend_no_budget(throttled: Throttled, viewer_key: str) -> None:
    async with throttled("198.51.100.3") as staff:
        good = {"Authorization": f"Bearer {viewer_key}"}
        for _ in range(BUDGET * 6):
            assert (await staff.get("/v1/invoices", headers=good)).status_code == 200
        assert (await staff.get("/v1/invoices", headers=_wrong_key())).status_code == 401


@pytest.mark.parametrize("prefix", ["/i/", "/pay/", "/i/{}/pdf"])
async def test_unknown_token_guesses_beyond_the_budget_get_429(throttled: Throttled, prefix: str) -> None:
    async with throttled(f"198.51.100.{10 + len(prefix)}") as guesser:
        statuses = []
        for _ in range(BUDGET + 2):
            token = secrets.token_urlsafe(24)
            path = prefix.format(token) if "{}" in prefix else prefix + token
            statuses.append((await guesser.get(path)).status_code)
        assert statuses == [404] * BUDGET + [429] * 2


async def test_bad_webhook_signatures_spend_the_budget(throttled: Throttled) -> None:
    async with throttled("198.51.100.30") as forger:
        statuses = []
        for n in range(BUDGET + 1):
            path = "/v1/integrations/calcom/no-such-integration/webhook" if n % 2 else "/v1/events"
            statuses.append((await forger.post(path, json={}, headers={"X-Billflow-Signature": "v1=00"})).status_code)
        assert statuses == [401] * BUDGET + [429]


async def test_forged_stripe_and_sendgrid_deliveries_spend_the_budget(throttled: Throttled) -> None:
    forged_sendgrid = EventSigner().headers(b"[]")  # signed with a key that is not the configured one
    async with throttled("198.51.100.31") as forger:
        statuses = []
        for n in range(BUDGET + 1):
            if n % 2:
                response = await forger.post("/webhooks/sendgrid", content=b"[]", headers=forged_sendgrid)
            else:
                forged = {"Stripe-Signature": "t=1,v1=0"}
                response = await forger.post("/webhooks/stripe", content=b"{}", headers=forged)
            statuses.append(response.status_code)
        assert statuses == [400] * BUDGET + [429]


async def test_a_malformed_but_signed_delivery_spends_no_budget(throttled: Throttled) -> None:
    import stripe

    raw = "[1, 2]"
    async with throttled("198.51.100.32") as stripe_ip:
        for _ in range(BUDGET + 2):
            header = stripe.WebhookSignature.generate_signature_header(raw, "whsec_throttle")
            response = await stripe_ip.post("/webhooks/stripe", content=raw, headers={"Stripe-Signature": header})
            assert response.status_code == 400


def test_the_budget_setting_takes_the_limits_notation_only() -> None:
    from pydantic import ValidationError

    assert Settings(BILLFLOW_AUTH_FAILURE_LIMIT="100 per hour").auth_failure_limit == "100 per hour"
    assert Settings(BILLFLOW_AUTH_FAILURE_LIMIT="").auth_failure_limit == ""  # off
    with pytest.raises(ValidationError, match="BILLFLOW_AUTH_FAILURE_LIMIT"):
        Settings(BILLFLOW_AUTH_FAILURE_LIMIT="lots")
