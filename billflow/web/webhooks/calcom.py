"""POST /v1/integrations/calcom/{integration}/webhook: Cal.com's webhook deliveries for one integration.

Thin edge: verify the signature with the integration's own secret, hand the raw body to the service, answer.
A bad or missing signature is a 401 and nothing is recorded; unknown triggers are answered 200 and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response

from billflow.services import calcom, integrations
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from models.calcom import CalDeliveryResult

router = APIRouter(prefix="/v1/integrations/calcom", tags=["Cal.com"])


@dataclass(frozen=True)
class VerifiedDelivery:
    body: bytes
    workspace_id: int  # the integration's, whose secret signed the body


async def verified_calcom_delivery(
    integration: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="the integration's name")],
    request: Request,
    db: DatabaseDep,
    signature: Annotated[
        str | None, Header(alias=calcom.SIGNATURE_HEADER, max_length=200, description="hex HMAC-SHA256 of the body")
    ] = None,
) -> VerifiedDelivery:
    """The raw body once the integration's own secret verified it; 401 otherwise, nothing recorded."""
    body = await request.body()
    credentials = await integrations.credentials_of(db, integration)
    if credentials is None:
        raise HTTPException(401, "unknown integration")
    try:
        calcom.verify_signature(credentials[0], body, signature)
    except calcom.SignatureError as err:
        raise HTTPException(401, str(err)) from None
    return VerifiedDelivery(body=body, workspace_id=credentials[1])


@router.post(
    "/{integration}/webhook",
    response_model=CalDeliveryResult,
    summary="Receive a Cal.com webhook delivery",
    description=(
        "Set this URL as the Cal.com webhook's subscriber URL and the integration's secret as its secret. "
        "Handles BOOKING_CREATED, BOOKING_REQUESTED (once ACCEPTED), BOOKING_PAID, BOOKING_RESCHEDULED, "
        "BOOKING_CANCELLED and BOOKING_REJECTED; other triggers are answered 200 and ignored. Each (booking uid, "
        "trigger) is handled once: a repeat gets the first answer again (header `Idempotent-Replayed: true`)."
    ),
    responses={
        401: {"description": "Missing or wrong X-Cal-Signature-256, or unknown integration"},
        422: {"description": "Not a Cal.com booking payload (the detail names the field)"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def receive_calcom_webhook(
    integration: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="the integration's name")],
    response: Response,
    db: DatabaseDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    delivery: Annotated[VerifiedDelivery, Depends(verified_calcom_delivery)],
) -> CalDeliveryResult:
    try:
        # Into the integration's workspace: the secret that verified the delivery is that workspace's.
        answer, replayed = await calcom.handle_delivery(
            db, temporal, settings, integration=integration, body=delivery.body, workspace_id=delivery.workspace_id
        )
    except calcom.PayloadError as err:
        raise HTTPException(422, str(err)) from None
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer
