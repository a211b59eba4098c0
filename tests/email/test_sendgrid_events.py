"""SendGrid's event webhook: ECDSA-verified; delivered/open/bounce update the message; duplicates harmless."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import timeline as timeline_repo
from models.email_messages import EmailMessage
from models.enums import MessageStatus
from models.invoices import Invoice
from tests.email.conftest import EventSigner, load_message
from tests.standins.fixtures import load_invoice, start_and_wait_issued, wait_until


async def _issued_message(db: Database, invoice: Invoice) -> EmailMessage:
    async with db.session() as session:
        (message,) = await messages_repo.list_messages(session, invoice_id=invoice.id)
    return message


def _event(message: EmailMessage, kind: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "email": message.to_email,
        "timestamp": 1764000000 + n,
        "event": kind,
        "sg_event_id": f"sg-ev-{message.id}-{kind}-{n}",
        "sg_message_id": f"{message.provider_message_id}.filter0001",
        "billflow_message_id": str(message.id),
        "billflow_invoice_id": str(message.invoice_id),
        **extra,
    }


async def _post(http: httpx.AsyncClient, signer: EventSigner, events: list[dict[str, Any]]) -> httpx.Response:
    body = json.dumps(events).encode()
    return await http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))


async def test_open_marks_the_invoice_viewed_and_out_of_order_events_do_not_downgrade(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    opened, delivered = _event(message, "open", 2), _event(message, "delivered", 1)
    response = await _post(http, signer, [opened, delivered, opened])  # open first, then delivered, then a repeat
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"open": 1, "delivered": 1, "duplicate": 1}
    assert (await load_message(db, message.id)).status == MessageStatus.opened
    refreshed = await load_invoice(db, invoice.id)
    assert refreshed.viewed_at is not None and int(refreshed.viewed_at.timestamp()) == 1764000002
    async with db.session() as session:
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    assert [e.kind for e in events].count("invoice.viewed") == 1


async def test_bad_signatures_are_rejected_and_change_nothing(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    event = _event(message, "open", 1)
    body = json.dumps([event]).encode()
    good = signer.headers(body)
    stranger = EventSigner().headers(body)
    tampered = body.replace(b'"open"', b'"bounce"')
    cases = {
        "unsigned": (body, {"Content-Type": "application/json"}),
        "tampered": (tampered, good),
        "other key": (body, stranger),
        "other timestamp": (body, {**good, "X-Twilio-Email-Event-Webhook-Timestamp": "1764000999"}),
        "garbage": (body, {**good, "X-Twilio-Email-Event-Webhook-Signature": "bm90LWEtc2lnbmF0dXJl"}),
    }
    for name, (content, headers) in cases.items():
        response = await http.post("/webhooks/sendgrid", content=content, headers=headers)
        assert response.status_code == 400, name
    async with db.session() as session:
        assert await inbox_repo.count(session, source="sendgrid", event_key=event["sg_event_id"]) == 0
    assert (await load_message(db, message.id)).status == MessageStatus.sent
    assert (await load_invoice(db, invoice.id)).viewed_at is None


async def test_bounce_flags_the_client_and_notifies_staff_once(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    bounce = _event(message, "bounce", 3, reason="550 5.1.1 The email account does not exist", type="bounce")
    for _ in range(2):
        assert (await _post(http, signer, [bounce])).status_code == 200
    assert (await _post(http, signer, [_event(message, "bounce", 4, reason="again")])).status_code == 200
    found = await load_message(db, message.id)
    assert found.status == MessageStatus.bounced and "does not exist" in (found.error or "")
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
        assert client is not None and client.email_bounced
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    assert [e.kind for e in events].count("email.bounced") == 1

    async def staff_notified() -> bool:
        async with db.session() as session:
            messages = await messages_repo.list_messages(session, invoice_id=invoice.id)
        return any(m.to_email == "billing@example.com" and "bounced" in m.subject for m in messages)

    await wait_until(staff_notified)
    async with db.session() as session:
        messages = await messages_repo.list_messages(session, invoice_id=invoice.id)
    assert [m.to_email for m in messages].count("billing@example.com") == 1


async def test_dropped_and_spamreport_update_the_message(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    await _post(http, signer, [_event(message, "delivered", 1), _event(message, "spamreport", 2)])
    assert (await load_message(db, message.id)).status == MessageStatus.spam
    response = await _post(
        http, signer, [{"event": "group_unsubscribe", "sg_event_id": "sg-unrelated", "email": "x@y"}]
    )
    assert response.json()["outcomes"] == {"ignored": 1}


async def test_stale_or_future_deliveries_are_refused(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    event = _event(message, "open", 7)
    body = json.dumps([event]).encode()
    now = int(time.time())
    for name, at in {"2020": 1_577_836_800, "ten minutes ago": now - 600, "ten minutes ahead": now + 600}.items():
        response = await http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body, str(at)))
        assert response.status_code == 400 and "stale" in response.json()["detail"], name
    async with db.session() as session:
        assert await inbox_repo.count(session, source="sendgrid", event_key=event["sg_event_id"]) == 0
    assert (await load_invoice(db, invoice.id)).viewed_at is None
    fresh = await http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body, str(now - 60)))
    assert fresh.status_code == 200


async def test_signed_but_malformed_events_are_400_and_store_nothing(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    good = _event(message, "delivered", 20)
    cases: dict[str, Any] = {
        "timestamp abc": [good, _event(message, "open", 21, timestamp="abc")],
        "timestamp 1e20": [good, _event(message, "open", 22, timestamp=1e20)],
        "timestamp negative": [good, _event(message, "bounce", 23, timestamp=-1)],
        "message id beyond bigint": [good, _event(message, "open", 24, billflow_message_id="9" * 30)],
        "event a list": [good, _event(message, "open", 25, event=["open"])],
        "not events": [good, "open"],
        "an object": {"event": "open"},
    }
    for name, events in cases.items():
        body = json.dumps(events).encode()
        response = await http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
        assert response.status_code == 400, (name, response.text)
    async with db.session() as session:  # all or nothing: the good event of each batch was not stored either
        assert await inbox_repo.count(session, source="sendgrid", event_key=good["sg_event_id"]) == 0
    assert (await load_message(db, message.id)).status == MessageStatus.sent
    assert (await load_invoice(db, invoice.id)).viewed_at is None


async def test_a_batch_of_2500_events_over_one_mib_is_accepted(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, signer: EventSigner
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = await _issued_message(db, invoice)
    padding = "x" * 300  # SendGrid's events carry user agents, IPs, categories: about 450 bytes each
    events = [_event(message, "delivered", n, useragent=padding) for n in range(2500)]
    body = json.dumps(events).encode()
    assert len(body) > 1024 * 1024
    response = await http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["received"] == 2500
