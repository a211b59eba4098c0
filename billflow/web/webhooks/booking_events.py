"""POST /v1/events: booking events from a booking system, signed with the integration's secret (or sent with a
staff API key). Verify, store once, act, answer 202."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from temporalio.service import RPCError

from billflow.services import booking_events, integrations
from billflow.services import subscriptions as subscriptions_service
from billflow.services.api_keys import verify_token
from billflow.web.auth import UNAUTHORIZED, api_key_scheme, bearer_scheme, presented_token
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from models.api_keys import ApiRole
from models.booking_events import BookingEventIn, EventAccepted
from models.client_sources import STAFF_SOURCE, integration_source
from models.columns import DEFAULT_WORKSPACE_ID

router = APIRouter(prefix="/v1", tags=["booking events"])

signature_scheme = APIKeyHeader(
    name=integrations.SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="integrationSignature",
    description=(
        "`v1=<hex HMAC-SHA256(secret, '<timestamp>.<raw body>')>` with the integration's secret; send also "
        f"`{integrations.TIMESTAMP_HEADER}` (Unix seconds, at most {integrations.TOLERANCE_SECONDS} s off) and "
        f"`{integrations.INTEGRATION_HEADER}` (its name)."
    ),
)

API_KEY_SOURCE = "api"  # the bookings' source when a staff key posts without naming an integration


async def event_sender(
    request: Request,
    db: DatabaseDep,
    signature: Annotated[str | None, Depends(signature_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header_key: Annotated[str | None, Depends(api_key_scheme)],
    integration: Annotated[
        str | None, Header(alias=integrations.INTEGRATION_HEADER, max_length=64, description="the integration's name")
    ] = None,
    timestamp: Annotated[
        str | None, Header(alias=integrations.TIMESTAMP_HEADER, max_length=20, description="Unix seconds")
    ] = None,
) -> booking_events.Sender:
    """The integration the event comes from: its signature checked, or a staff key's naming it. A staff key's
    bookings are keyed by the integration it names, but their clients are staff's (models/client_sources)."""
    if signature is not None:
        if not integration:
            raise HTTPException(401, f"{integrations.INTEGRATION_HEADER} is required", headers=UNAUTHORIZED)
        credentials = await integrations.credentials_of(db, integration)
        if credentials is None:
            raise HTTPException(401, "unknown integration", headers=UNAUTHORIZED)
        try:
            integrations.verify_signature(
                credentials[0], await request.body(), timestamp=timestamp, signature=signature
            )
        except integrations.SignatureError as err:
            raise HTTPException(401, str(err), headers=UNAUTHORIZED) from None
        own = integration_source(integration)
        return booking_events.Sender(integration=integration, client_source=own, actor=own, workspace_id=credentials[1])
    token = presented_token(bearer, header_key)
    if token is None:
        raise HTTPException(401, "a signature or an API key is required", headers=UNAUTHORIZED)
    principal = await verify_token(db, token)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", headers=UNAUTHORIZED)
    if not principal.role.allows(ApiRole.staff):
        raise HTTPException(403, f"role {principal.role.value} may not post events (needs staff)")
    workspace_id = principal.workspace_id  # the booking goes into the key's workspace: its clients, numbers, seller
    if integration:
        named = await integrations.credentials_of(db, integration)
        if named is None or named[1] != workspace_id:  # another workspace's integration is not this key's to name
            raise HTTPException(401, "unknown integration", headers=UNAUTHORIZED)
    return booking_events.Sender(
        integration=integration or api_key_source(workspace_id),
        client_source=STAFF_SOURCE,
        actor=principal.actor,
        workspace_id=workspace_id,
    )


def api_key_source(workspace_id: int) -> str:
    """The bookings' source when a staff key posts without naming an integration: one per workspace, since a
    booking's source key and run are keyed by its source (two workspaces may both have a booking "bk-1")."""
    return API_KEY_SOURCE if workspace_id == DEFAULT_WORKSPACE_ID else f"{API_KEY_SOURCE}-ws{workspace_id}"


def _example_time(days: int = 0) -> str:
    return (datetime(2026, 11, 20, 10, 0, tzinfo=UTC) + timedelta(days=days)).isoformat()


EVENT_EXAMPLES = {
    "confirmed": {
        "summary": "booking.confirmed (v1): start the invoice",
        "value": {
            "id": "evt_0001",
            "type": "booking.confirmed",
            "version": 1,
            "occurred_at": _example_time(),
            "data": {
                "booking_id": "bk-1042",
                "client": {
                    "external_id": "cus-77",
                    "name": "Grace Hopper",
                    "email": "grace@example.com",
                    "timezone": "Europe/London",
                },
                "services": [
                    {"description": "Deep-tissue massage, 60 min", "quantity": 1, "unit_price_minor": 9000},
                    {"description": "Aromatherapy oil", "quantity": 2, "unit_price_minor": 1200, "tax_rate_bp": 0},
                ],
                "currency": "GBP",
                "tax_rate_bp": 2000,
                "payment_terms_days": 14,
                "starts_at": _example_time(3),
            },
        },
    },
    "cancelled": {
        "summary": "booking.cancelled (v1): void the unpaid invoice",
        "value": {
            "id": "evt_0002",
            "type": "booking.cancelled",
            "version": 1,
            "data": {"booking_id": "bk-1042", "reason": "client cancelled"},
        },
    },
    "rescheduled": {
        "summary": "booking.rescheduled (v1): note the new time",
        "value": {
            "id": "evt_0003",
            "type": "booking.rescheduled",
            "version": 1,
            "data": {"booking_id": "bk-1042", "starts_at": _example_time(5), "previous_starts_at": _example_time(3)},
        },
    },
}


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    summary="Receive a booking event",
    description=(
        "Accepts `booking.confirmed`, `booking.cancelled` and `booking.rescheduled` (schema version 1). "
        "Each event id is handled once per integration: a repeated id gets the first answer again "
        "(header `Idempotent-Replayed: true`) and starts nothing; the same id with a different body is a 409. "
        "A confirmed booking is an issued invoice before the answer: `invoice_number` is always set, and the "
        "invoice's run (`workflow_id`: payment link, emails, reminders) starts right after, also while the "
        "workflow service is unreachable (it starts once it is back)."
    ),
    responses={
        202: {"description": "Accepted; a replayed event id carries `Idempotent-Replayed: true`"},
        401: {"description": "Missing, stale or wrong signature; unknown integration; bad API key"},
        403: {"description": "API key below the staff role"},
        409: {"description": "Event id already used for a different event"},
        503: {"description": "subscription.created only: Temporal unreachable; nothing was stored, retry later"},
    },
)
async def receive_event(
    event: Annotated[BookingEventIn, Body(openapi_examples=EVENT_EXAMPLES)],
    sender: Annotated[booking_events.Sender, Depends(event_sender)],
    response: Response,
    db: DatabaseDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> EventAccepted:
    try:
        answer, replayed = await booking_events.handle_event(
            db,
            temporal,
            settings,
            integration=sender.integration,
            event=event,
            client_source=sender.client_source,
            actor=sender.actor,
            workspace_id=sender.workspace_id,
        )
    except booking_events.SellerCannotIssue as err:  # issue 14: the seller's profile must fit the booking's lines
        raise HTTPException(422, str(err)) from None
    except booking_events.EventIdReused as err:
        raise HTTPException(409, str(err)) from None
    except subscriptions_service.SubscriptionConflict as err:
        raise HTTPException(409, str(err)) from None
    except subscriptions_service.BackfillTooLong as err:  # nothing stored: the event's transaction rolled back
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "data", err.field), "msg": str(err)}]
        ) from None
    except RPCError as err:  # subscription.created: Temporal unreachable, nothing was stored, retry
        raise HTTPException(503, f"workflow service unavailable: {err.message}", headers={"Retry-After": "5"}) from None
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer
