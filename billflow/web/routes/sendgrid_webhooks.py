"""SendGrid's event webhook: verify the ECDSA signature, apply each event once, tell staff about bounces."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from billflow.config import Settings
from billflow.db import Database
from billflow.services.email_events import apply_sendgrid_event
from billflow.web.deps import DatabaseDep, SettingsDep
from models.enums import EmailKind
from models.workflow_io import SendEmailInput

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

MAX_EVENTS = 5000  # SendGrid batches at most about 1,000 events per POST
MAX_BODY_BYTES = 10_000_000


@router.post("/webhooks/sendgrid", summary="SendGrid event webhook (signed, ECDSA P-256)")
async def sendgrid_webhook(
    request: Request, background: BackgroundTasks, db: DatabaseDep, settings: SettingsDep
) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail=f"body larger than {MAX_BODY_BYTES} bytes")
    signature = request.headers.get(EventWebhookHeader.SIGNATURE)
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP)
    if not settings.sendgrid_event_public_key:
        raise HTTPException(status_code=400, detail="SendGrid events are not configured (SENDGRID_EVENT_PUBLIC_KEY)")
    if not signature or not timestamp:
        raise HTTPException(status_code=400, detail="missing X-Twilio-Email-Event-Webhook-Signature/-Timestamp")
    if not _verified(settings.sendgrid_event_public_key, raw, signature, timestamp):
        log.warning("sendgrid webhook rejected: bad signature")
        raise HTTPException(status_code=400, detail="invalid event webhook signature")
    try:
        events = json.loads(raw)
    except ValueError as err:
        raise HTTPException(status_code=400, detail="body is not JSON") from err
    if not isinstance(events, list) or len(events) > MAX_EVENTS or not all(isinstance(e, dict) for e in events):
        raise HTTPException(status_code=400, detail="body must be a JSON array of event objects")
    counts: dict[str, int] = {}
    for event in events:
        async with db.session() as session:
            result = await apply_sendgrid_event(session, event)
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if result.bounced_invoice_id is not None:
            background.add_task(send_email_now, request, bounce_notice(result.bounced_invoice_id))
    return {"received": len(events), "outcomes": counts}


def _verified(public_key: str, raw: bytes, signature: str, timestamp: str) -> bool:
    try:
        return bool(EventWebhook(public_key).verify_signature(raw.decode("utf-8"), signature, timestamp))
    except (ValueError, TypeError, UnicodeDecodeError):  # a malformed key, signature or body
        return False


async def send_email_now(request: Request, data: SendEmailInput) -> None:
    """Send one invoice email from the web process (after the response), through the same claim-before-send
    path as the workflow's activity: its idempotency key makes a repeat a no-op."""
    from activities.email import EmailActivities
    from billflow.email import build_email_sender

    state = request.app.state
    settings: Settings = state.settings
    db: Database = state.db
    if getattr(state, "email_sender", None) is None:
        state.email_sender = build_email_sender(settings)
    try:
        await EmailActivities(db, state.email_sender, settings).send_invoice_email(data)
    except Exception:  # what happened is on the timeline either way; the email must not fail the webhook
        log.exception("could not send %s email for invoice %s", data.template or data.kind, data.invoice_id)


def bounce_notice(invoice_id: int) -> SendEmailInput:
    """One staff email per bounced invoice."""
    return SendEmailInput(
        invoice_id=invoice_id,
        kind=EmailKind.escalation,  # a staff notice; the template says what happened
        template="bounce_notice",
        to_staff=True,
        idempotency_key=f"bounce-notice:{invoice_id}",
    )
