"""The hostile-input scenario's webhook part: chunked oversized bodies on every webhook (413), signed but
malformed Stripe, SendGrid and Cal.com payloads (400/422), a stale SendGrid delivery (400). No 5xx, and none of
them leaves a stored event or changes the message it names."""

from __future__ import annotations

import hmac
import time
from collections import Counter
from collections.abc import AsyncIterator
from hashlib import sha256
from typing import Any

import httpx
import psycopg

from bench.chaos.report import ScenarioResult
from bench.chaos.signing import STRIPE_WEBHOOK_SECRET, SendGridSigner, stripe_delivery, stripe_event

CHUNK = b" " * 65_536
CALCOM_SIGNATURE = "X-Cal-Signature-256"


def webhook_env(signer: SendGridSigner) -> dict[str, str]:
    """The stack's settings for the signed webhooks (the payment and email backends stay local)."""
    return {"STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET, "SENDGRID_EVENT_PUBLIC_KEY": signer.public_key}


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // len(CHUNK) + 1):
        yield CHUNK


def _stripe_cases() -> dict[str, tuple[str, Any]]:
    """(event id, event or raw JSON value) per case; each is signed with the right secret."""
    session = {"id": "cs_hostile", "object": "checkout.session", "status": "complete", "payment_status": "paid"}
    return {
        "stripe: JSON array body": ("", [1, 2, 3]),
        "stripe: created 'abc'": (
            "evt_hostile_created",
            {**stripe_event("charge.refunded", {"id": "ch_h"}, event_id="evt_hostile_created"), "created": "abc"},
        ),
        "stripe: amount_total 'lots'": (
            "evt_hostile_amount",
            stripe_event(
                "checkout.session.completed", {**session, "amount_total": "lots"}, event_id="evt_hostile_amount"
            ),
        ),
        "stripe: created 1e20": (
            "evt_hostile_1e20",
            {**stripe_event("ping", {}, event_id="evt_hostile_1e20"), "created": 1e20},
        ),
    }


def _sendgrid_cases(message: tuple[int, int, str | None]) -> dict[str, tuple[str, Any, int | None]]:
    """(sg_event_id, batch, signed-at) per case, naming an existing message."""
    message_id, invoice_id, provider_id = message

    def event(n: int, **extra: Any) -> dict[str, Any]:
        return {
            "event": "open",
            "timestamp": int(time.time()),
            "sg_event_id": f"sg-hostile-{n}",
            "sg_message_id": f"{provider_id}.filter0001",
            "billflow_message_id": str(message_id),
            "billflow_invoice_id": str(invoice_id),
            **extra,
        }

    return {
        "sendgrid: timestamp 'abc'": ("sg-hostile-1", [event(1, timestamp="abc")], None),
        "sendgrid: timestamp 1e20": ("sg-hostile-2", [event(2, timestamp=1e20)], None),
        "sendgrid: one bad event in a batch": ("sg-hostile-3", [event(3), event(4, timestamp=[1])], None),
        "sendgrid: not a list": ("sg-hostile-5", event(5), None),
        "sendgrid: stale delivery (signed in 2020)": ("sg-hostile-6", [event(6)], 1_577_836_800),
    }


def _calcom_cases() -> dict[str, dict[str, Any]]:
    attendee = {"name": "Ada", "email": "ada@example.com", "timeZone": "Europe/London"}
    payload = {
        "uid": "hostile-uid",
        "title": "Session",
        "startTime": "2026-12-01T10:00:00Z",
        "endTime": "2026-12-01T11:00:00Z",
        "attendees": [attendee],
        "organizer": {"name": "Org", "email": "org@example.com", "timeZone": "Europe/London"},
    }
    base = {"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-12-01T09:00:00Z", "payload": payload}
    return {
        "calcom: payload a list": {**base, "payload": [1]},
        "calcom: startTime 'abc'": {**base, "payload": {**payload, "startTime": "abc"}},
        "calcom: price 'lots'": {**base, "payload": {**payload, "price": "lots"}},
        "calcom: attendees an object": {**base, "payload": {**payload, "attendees": attendee}},
    }


async def run_webhook_cases(
    http: httpx.AsyncClient,
    plain_url: str,
    signer: SendGridSigner,
    calcom: tuple[str, str],
    answers: Counter[str],
    result: ScenarioResult,
) -> int:
    """Send every case; return how many were sent. Problems go to `result`."""
    sent = 0

    def check(case: str, answer: httpx.Response, allowed: tuple[int, ...]) -> None:
        nonlocal sent
        sent += 1
        answers[str(answer.status_code)] += 1
        if answer.status_code >= 500:
            result.problems.append(f"{case}: {answer.status_code} {answer.text[:160]}")
        elif answer.status_code not in allowed:
            result.problems.append(f"{case}: {answer.status_code}, expected one of {allowed}: {answer.text[:120]}")

    integration, secret = calcom
    for path in (
        "/webhooks/stripe",
        "/webhooks/sendgrid",
        f"/v1/integrations/calcom/{integration}/webhook",
        "/v1/events",
    ):
        size = 12 * 1024 * 1024  # over SendGrid's own 8 MiB limit as well as the default 1 MiB
        answer = await http.post(path, content=_chunks(size), headers={"Content-Type": "application/json"})
        check(f"chunked {size >> 20} MiB body to {path}", answer, (413,))

    stripe_ids = []
    for case, (event_id, event) in _stripe_cases().items():
        body, headers = stripe_delivery(event)
        check(case, await http.post("/webhooks/stripe", content=body, headers=headers), (400,))
        stripe_ids += [event_id] if event_id else []

    with psycopg.connect(plain_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT id, invoice_id, provider_message_id, status FROM email_messages "
            "WHERE invoice_id IS NOT NULL ORDER BY id LIMIT 1"
        ).fetchone()
    if row is None:
        result.problems.append("no email message to aim the SendGrid cases at")
        return sent
    message, status_before = (row[0], row[1], row[2]), row[3]
    sendgrid_ids = []
    for case, (event_id, events, at) in _sendgrid_cases(message).items():
        body, headers = signer.delivery(events, at=at)
        check(case, await http.post("/webhooks/sendgrid", content=body, headers=headers), (400,))
        sendgrid_ids.append(event_id)

    for case, doc in _calcom_cases().items():
        body = httpx.Request("POST", "/", json=doc).content
        signature = hmac.new(secret.encode(), body, sha256).hexdigest()
        headers = {"Content-Type": "application/json", CALCOM_SIGNATURE: signature}
        answer = await http.post(f"/v1/integrations/calcom/{integration}/webhook", content=body, headers=headers)
        check(case, answer, (400, 422))

    with psycopg.connect(plain_url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT source, event_key FROM inbox_events WHERE source IN ('stripe', 'sendgrid') AND event_key = ANY(%s)",
            (stripe_ids + sendgrid_ids,),
        ).fetchall()
        result.problems += [f"malformed {p} event {e} was stored" for p, e in stored]
        after = conn.execute("SELECT status FROM email_messages WHERE id = %s", (message[0],)).fetchone()
        if after is None or after[0] != status_before:
            result.problems.append(f"email message {message[0]} changed by refused events: {status_before} -> {after}")
        calcom_rows = conn.execute(
            "SELECT count(*) FROM invoices WHERE source_key LIKE %s", (f"booking:{integration}:%",)
        ).fetchone()
        if calcom_rows and calcom_rows[0]:
            result.problems.append(f"{calcom_rows[0]} invoices from malformed Cal.com deliveries")
    return sent
