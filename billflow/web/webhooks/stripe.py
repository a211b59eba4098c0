"""Stripe's webhook: verify the signature on the raw body, store the event once, apply it, answer."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Request

from billflow import metrics
from billflow.payments.stripe_events import MalformedEvent, parse_event, receive_stripe_event
from billflow.services import stripe_accounts
from billflow.web.background_email import send_email_now
from billflow.web.deps import DatabaseDep, SecretBoxDep, SettingsDep, TemporalDep
from billflow.web.throttle import count_failure

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

# Stripe's own default: a delivery signed more than 5 minutes ago is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


@router.post("/webhooks/stripe", summary="Stripe events (signed with STRIPE_WEBHOOK_SECRET)")
async def stripe_webhook(
    request: Request, background: BackgroundTasks, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> dict:
    return await _receive(request, background, db, temporal, settings.stripe_webhook_secret, "STRIPE_WEBHOOK_SECRET")


@router.post(
    "/webhooks/stripe/connect",
    summary="Events of workspaces' connected Stripe accounts (signed with STRIPE_CONNECT_WEBHOOK_SECRET)",
)
async def stripe_connect_webhook(
    request: Request, background: BackgroundTasks, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> dict:
    secret = settings.stripe_connect_webhook_secret
    return await _receive(request, background, db, temporal, secret, "STRIPE_CONNECT_WEBHOOK_SECRET")


@router.post(
    "/webhooks/stripe/w/{workspace_id}",
    summary="Events of a workspace's own Stripe account (signed with the webhook secret it stored)",
    responses={
        400: {"description": "Missing or invalid Stripe-Signature, or not a Stripe event"},
        404: {"description": "No workspace with its own Stripe keys has this id"},
    },
)
async def stripe_own_keys_webhook(
    workspace_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    background: BackgroundTasks,
    db: DatabaseDep,
    temporal: TemporalDep,
    secrets: SecretBoxDep,
) -> dict:
    async with db.session() as session:
        secret = await stripe_accounts.webhook_secret_of(session, secrets, workspace_id=workspace_id)
    if secret is None:  # no such workspace, or none with its own keys: nothing to verify against
        raise HTTPException(status_code=404, detail=f"no workspace {workspace_id} with its own Stripe keys")
    return await _receive(request, background, db, temporal, secret, "stripe_webhook_secret", own_keys_of=workspace_id)


async def _receive(
    request: Request,
    background: BackgroundTasks,
    db: Any,
    temporal: Any,
    secret: str | None,
    setting: str,
    *,
    own_keys_of: int | None = None,
) -> dict:
    """Verify, parse, store once and apply; a Connect event is routed by its `account` (stripe_events)."""
    raw = await request.body()  # the body limit (a Stripe event is a few KiB) is the app's, 413
    header = request.headers.get("stripe-signature")
    if not secret:
        raise HTTPException(status_code=400, detail=f"Stripe webhooks are not configured ({setting})")
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
    result = await receive_stripe_event(db, temporal, event, own_keys_of=own_keys_of)
    metrics.payment_webhook("stripe", result.label)
    if result.refund_email is not None:
        background.add_task(send_email_now, request, result.refund_email)
    return {"received": True, "outcome": result.outcome}
