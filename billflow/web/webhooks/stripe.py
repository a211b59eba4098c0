"""Stripe's webhook: verify the signature on the raw body, store the event once, apply it, answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Request

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


@dataclass(frozen=True)
class SigningSecret:
    """What a route verifies Stripe's signature with, and where it comes from (named when it is missing)."""

    value: str | None
    setting: str


@dataclass(frozen=True)
class VerifiedEvent:
    event: dict[str, Any]  # checked field by field (stripe_events.parse_event)
    own_keys_of: int | None = None  # the workspace whose own Stripe account sent it


async def platform_event(request: Request, settings: SettingsDep) -> VerifiedEvent:
    """The dependency of /webhooks/stripe: verified with STRIPE_WEBHOOK_SECRET."""
    return await _verified(request, SigningSecret(settings.stripe_webhook_secret, "STRIPE_WEBHOOK_SECRET"))


async def connect_event(request: Request, settings: SettingsDep) -> VerifiedEvent:
    """The dependency of /webhooks/stripe/connect: verified with STRIPE_CONNECT_WEBHOOK_SECRET."""
    secret = SigningSecret(settings.stripe_connect_webhook_secret, "STRIPE_CONNECT_WEBHOOK_SECRET")
    return await _verified(request, secret)


async def own_keys_event(
    workspace_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, db: DatabaseDep, secrets: SecretBoxDep
) -> VerifiedEvent:
    """The dependency of /webhooks/stripe/w/{id}: verified with the webhook secret the workspace stored; 404 for
    a workspace without its own keys (nothing to verify against)."""
    async with db.session() as session:
        secret = await stripe_accounts.webhook_secret_of(session, secrets, workspace_id=workspace_id)
    if secret is None:
        raise HTTPException(status_code=404, detail=f"no workspace {workspace_id} with its own Stripe keys")
    return await _verified(request, SigningSecret(secret, "stripe_webhook_secret"), own_keys_of=workspace_id)


async def _verified(request: Request, secret: SigningSecret, *, own_keys_of: int | None = None) -> VerifiedEvent:
    """The delivery once Stripe's signature on the raw body is verified and the event parsed; 400 otherwise."""
    raw = await request.body()  # the body limit (a Stripe event is a few KiB) is the app's, 413
    header = request.headers.get("stripe-signature")
    if not secret.value:
        raise HTTPException(status_code=400, detail=f"Stripe webhooks are not configured ({secret.setting})")
    if not header:
        raise HTTPException(status_code=400, detail="missing Stripe-Signature header")
    try:
        # The signature only: stripe's own parsing (construct_event) fails with AttributeError on a JSON array.
        stripe.WebhookSignature.verify_header(raw, header, secret.value, SIGNATURE_TOLERANCE_SECONDS)
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
    return VerifiedEvent(event, own_keys_of)


@router.post("/webhooks/stripe", summary="Stripe events (signed with STRIPE_WEBHOOK_SECRET)")
async def stripe_webhook(
    request: Request,
    background: BackgroundTasks,
    db: DatabaseDep,
    temporal: TemporalDep,
    verified: Annotated[VerifiedEvent, Depends(platform_event)],
) -> dict:
    return await _apply(request, background, db, temporal, verified)


@router.post(
    "/webhooks/stripe/connect",
    summary="Events of workspaces' connected Stripe accounts (signed with STRIPE_CONNECT_WEBHOOK_SECRET)",
)
async def stripe_connect_webhook(
    request: Request,
    background: BackgroundTasks,
    db: DatabaseDep,
    temporal: TemporalDep,
    verified: Annotated[VerifiedEvent, Depends(connect_event)],
) -> dict:
    return await _apply(request, background, db, temporal, verified)


@router.post(
    "/webhooks/stripe/w/{workspace_id}",
    summary="Events of a workspace's own Stripe account (signed with the webhook secret it stored)",
    responses={
        400: {"description": "Missing or invalid Stripe-Signature, or not a Stripe event"},
        404: {"description": "No workspace with its own Stripe keys has this id"},
    },
)
async def stripe_own_keys_webhook(
    request: Request,
    background: BackgroundTasks,
    db: DatabaseDep,
    temporal: TemporalDep,
    verified: Annotated[VerifiedEvent, Depends(own_keys_event)],
) -> dict:
    return await _apply(request, background, db, temporal, verified)


async def _apply(
    request: Request, background: BackgroundTasks, db: Any, temporal: Any, verified: VerifiedEvent
) -> dict:
    """Store once and apply; a Connect event is routed by its `account` (stripe_events)."""
    result = await receive_stripe_event(db, temporal, verified.event, own_keys_of=verified.own_keys_of)
    metrics.payment_webhook("stripe", result.label)
    if result.refund_email is not None:
        background.add_task(send_email_now, request, result.refund_email)
    return {"received": True, "outcome": result.outcome}
