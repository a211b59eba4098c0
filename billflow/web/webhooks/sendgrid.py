"""SendGrid's event webhook: verify the ECDSA signature, apply each event once, tell staff about bounces."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from billflow.services.email_events import MalformedEvents, apply_sendgrid_event, parse_events
from billflow.web.background_email import bounce_notice, send_email_now
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.throttle import count_failure

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])


async def verified_sendgrid_body(request: Request, settings: SettingsDep) -> bytes:
    """The delivery's raw body once its ECDSA signature and its signed timestamp have been checked; 400 otherwise."""
    raw = await request.body()  # this route's own body limit (BILLFLOW_SENDGRID_MAX_BODY_BYTES) is the app's, 413
    signature = request.headers.get(EventWebhookHeader.SIGNATURE)
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP)
    if not settings.sendgrid_event_public_key:
        raise HTTPException(status_code=400, detail="SendGrid events are not configured (SENDGRID_EVENT_PUBLIC_KEY)")
    if not signature or not timestamp:
        raise HTTPException(status_code=400, detail="missing X-Twilio-Email-Event-Webhook-Signature/-Timestamp")
    if not _verified(settings.sendgrid_event_public_key, raw, signature, timestamp):
        log.warning("sendgrid webhook rejected: bad signature")
        count_failure(request)
        raise HTTPException(status_code=400, detail="invalid event webhook signature")
    # The timestamp is signed with the body: an old one is a recorded delivery played again.
    tolerance = settings.sendgrid_event_tolerance_seconds
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        log.warning("sendgrid webhook rejected: signed at %s, more than %s s from now", timestamp[:20], tolerance)
        count_failure(request)
        raise HTTPException(status_code=400, detail=f"stale delivery: signed more than {tolerance} s from now")
    return raw


@router.post("/webhooks/sendgrid", summary="SendGrid event webhook (signed, ECDSA P-256)")
async def sendgrid_webhook(
    request: Request,
    background: BackgroundTasks,
    db: DatabaseDep,
    raw: Annotated[bytes, Depends(verified_sendgrid_body)],
) -> dict[str, Any]:
    try:
        events = parse_events(raw)  # every event checked before any is stored
    except MalformedEvents as err:
        raise HTTPException(status_code=400, detail=str(err)) from None
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
