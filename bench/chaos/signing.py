"""Signing webhook deliveries the way the providers do, with keys made here (and deliberately wrong ones)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import stripe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

STRIPE_WEBHOOK_SECRET = "whsec_chaos_billflow"


def stripe_event(kind: str, obj: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def stripe_delivery(event: Any, *, secret: str = STRIPE_WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=int(time.time()))
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


class SendGridSigner:
    """ECDSA P-256 over timestamp + body, base64 DER, as SendGrid's signed event webhook."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def delivery(self, events: Any, *, at: int | None = None) -> tuple[bytes, dict[str, str]]:
        """Sign `events` (any JSON, so malformed batches can be signed too) as of `at` (default: now)."""
        body = json.dumps(events).encode()
        timestamp = str(int(time.time()) if at is None else at)
        signature = self._key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return body, {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json",
        }
