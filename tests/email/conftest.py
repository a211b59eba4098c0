"""Email tests: the official SendGrid client against the local stand-in; the event webhook signed with a P-256
key made here."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import EmailBackend, Settings
from billflow.db import Database
from billflow.repositories import messages as messages_repo
from models.email_messages import EmailMessage
from tests.standins.fixtures import running_worker, sendgrid_api, web_client
from tests.standins.sendgrid_api import SendGridStandIn

__all__ = ["sendgrid_api"]


class EventSigner:
    """Signs event deliveries the way SendGrid does: ECDSA P-256 over timestamp + body, base64 DER."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()  # what SendGrid's settings page shows

    def headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))  # signed now: older deliveries are refused as replays
        signature = self._key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json",
        }


async def load_message(db: Database, message_id: int | None) -> EmailMessage:
    async with db.session() as session:
        found = await messages_repo.get_message(session, message_id=message_id)
    assert found is not None
    return found


@pytest.fixture(scope="session")
def signer() -> EventSigner:
    return EventSigner()


@pytest.fixture
def email_settings(settings: Settings, signer: EventSigner) -> Settings:
    """Outbox delivery (no network) with SendGrid's event webhook configured."""
    return settings.model_copy(update={"sendgrid_event_public_key": signer.public_key})


@pytest.fixture
def sendgrid_settings(email_settings: Settings, sendgrid_api: tuple[SendGridStandIn, str]) -> Settings:
    return email_settings.model_copy(
        update={
            "email_backend": EmailBackend.sendgrid,
            "sendgrid_api_key": "SG.test-key",
            "sendgrid_api_host": sendgrid_api[1],
            "email_timeout_seconds": 1.0,
        }
    )


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, db: Database, email_settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(time_env.client, db, email_settings) as running:
        yield running


@pytest.fixture
async def http(
    email_settings: Settings, db: Database, time_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(email_settings, db, time_env.client) as client:
        yield client
