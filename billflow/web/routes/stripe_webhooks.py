"""Stripe's webhook: verify the signature on the raw body, store the event once, apply it, answer."""

from __future__ import annotations

import json
import logging

import stripe
from fastapi import APIRouter, BackgroundTasks, HTTPException, Request

from billflow import metrics
from billflow.payments.stripe_events import receive_stripe_event
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from billflow.web.routes.sendgrid_webhooks import send_email_now

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

# Stripe's own default: a delivery signed more than 5 minutes ago is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300
# A Stripe event is a few kilobytes; anything this large is not one.
MAX_BODY_BYTES = 1_000_000


@router.post("/webhooks/stripe", summary="Stripe events (signed with STRIPE_WEBHOOK_SECRET)")
async def stripe_webhook(
    request: Request, background: BackgroundTasks, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail=f"body larger than {MAX_BODY_BYTES} bytes")
    header = request.headers.get("stripe-signature")
    secret = settings.stripe_webhook_secret
    if not secret:
        raise HTTPException(status_code=400, detail="Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
    if not header:
        raise HTTPException(status_code=400, detail="missing Stripe-Signature header")
    try:
        stripe.Webhook.construct_event(raw, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as err:
        log.warning("stripe webhook rejected: %s", err)
        metrics.payment_webhook("stripe", "invalid_signature")
        raise HTTPException(status_code=400, detail="invalid Stripe-Signature") from err
    except ValueError as err:
        raise HTTPException(status_code=400, detail="body is not a Stripe event") from err
    event = json.loads(raw)
    if not isinstance(event, dict) or "id" not in event:
        raise HTTPException(status_code=400, detail="body is not a Stripe event")
    result = await receive_stripe_event(db, temporal, event)
    metrics.payment_webhook("stripe", result.label)
    if result.refund_email is not None:
        background.add_task(send_email_now, request, result.refund_email)
    return {"received": True, "outcome": result.outcome}
