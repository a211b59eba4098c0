"""Stripe's webhook: verify the signature on the raw body, store the event once, apply it, answer."""

from __future__ import annotations

import logging

import stripe
from fastapi import APIRouter, BackgroundTasks, HTTPException, Request

from billflow import metrics
from billflow.payments.stripe_events import MalformedEvent, parse_event, receive_stripe_event
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from billflow.web.routes.sendgrid_webhooks import send_email_now
from billflow.web.throttle import count_failure

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

# Stripe's own default: a delivery signed more than 5 minutes ago is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


@router.post("/webhooks/stripe", summary="Stripe events (signed with STRIPE_WEBHOOK_SECRET)")
async def stripe_webhook(
    request: Request, background: BackgroundTasks, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> dict:
    raw = await request.body()  # the body limit (a Stripe event is a few KiB) is the app's, 413
    header = request.headers.get("stripe-signature")
    secret = settings.stripe_webhook_secret
    if not secret:
        raise HTTPException(status_code=400, detail="Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
    if not header:
        raise HTTPException(status_code=400, detail="missing Stripe-Signature header")
    try:
        # The signature only: stripe's own parsing (construct_event) fails with AttributeError on a JSON array.
        stripe.WebhookSignature.verify_header(raw, header, secret, SIGNATURE_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as err:
        log.warning("stripe webhook rejected: %s", err)
        metrics.payment_webhook("stripe", "invalid_signature")
        count_failure(request)
        raise HTTPException(status_code=400, detail="invalid Stripe-Signature") from err
    try:
        event = parse_event(raw)
    except MalformedEvent as err:
        metrics.payment_webhook("stripe", "malformed")
        raise HTTPException(status_code=400, detail=str(err)) from None
    result = await receive_stripe_event(db, temporal, event)
    metrics.payment_webhook("stripe", result.label)
    if result.refund_email is not None:
        background.add_task(send_email_now, request, result.refund_email)
    return {"received": True, "outcome": result.outcome}
