"""Booking-system integrations: created with a signing secret; deliveries verified by HMAC-SHA256.

Signature: `X-Billflow-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with the Unix
timestamp in `X-Billflow-Timestamp`; deliveries older or newer than the tolerance are refused, so a captured
request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime

from pydantic import BaseModel, Field

from billflow.db import ALL_WORKSPACES, Database
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import integrations as integrations_repo
from models.client_sources import integration_source
from models.columns import DEFAULT_WORKSPACE_ID
from models.inbox import InboxSource
from models.integrations import Integration

SIGNATURE_HEADER = "X-Billflow-Signature"
TIMESTAMP_HEADER = "X-Billflow-Timestamp"
INTEGRATION_HEADER = "X-Billflow-Integration"
TOLERANCE_SECONDS = 300


class IntegrationExists(ValueError):
    pass


class SignatureError(Exception):
    """Why a delivery's signature was refused (said in the 401 answer)."""


class NewIntegration(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="also the bookings' source")
    # The workspace its bookings' clients and invoices belong to (issue 13).
    workspace_id: int = Field(default=DEFAULT_WORKSPACE_ID, ge=1, le=2**31 - 1)


class IntegrationNotFound(LookupError):
    pass


class IntegrationOut(BaseModel):
    name: str
    created_at: datetime
    rotated_at: datetime | None = None  # when the signing secret was last replaced


class CreatedIntegration(IntegrationOut):
    secret: str  # shown at creation; give it to the booking system


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(name: str, secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers an integration sends with `body` (used by `billflow events send` and the tests)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {INTEGRATION_HEADER: name, TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, body, ts)}


def verify_signature(secret: str, body: bytes, *, timestamp: str | None, signature: str | None) -> None:
    if not timestamp or not signature:
        raise SignatureError(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    if abs(time.time() - ts) > TOLERANCE_SECONDS:
        raise SignatureError("stale or future timestamp")
    if not hmac.compare_digest(sign(secret, body, ts), signature.strip()):
        raise SignatureError("signature does not match")


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


async def create_integration(db: Database, data: NewIntegration) -> CreatedIntegration:
    secret = _new_secret()
    # Names are unique across workspaces (a delivery names its integration before its workspace is known).
    async with db.session(workspace=ALL_WORKSPACES) as session:
        if await integrations_repo.get_integration(session, name=data.name) is not None:
            raise IntegrationExists(f"integration {data.name!r} already exists")
        row = await integrations_repo.add_integration(
            session, integration=Integration(name=data.name, secret=secret, workspace_id=data.workspace_id)
        )
        return CreatedIntegration(name=row.name, created_at=row.created_at, secret=secret)


async def list_integrations(db: Database, *, workspace_id: int | None = None) -> list[IntegrationOut]:
    """The workspace's integrations (None: every workspace's, for the CLI)."""
    async with db.session() as session:
        rows = await integrations_repo.list_integrations(session, workspace_id=workspace_id)
        return [IntegrationOut(name=r.name, created_at=r.created_at, rotated_at=r.secret_rotated_at) for r in rows]


async def credentials_of(db: Database, name: str) -> tuple[str, int] | None:
    """The enabled integration's secret and workspace, or None."""
    async with db.session() as session:
        row = await integrations_repo.get_integration(session, name=name)
    return (row.secret, row.workspace_id) if row is not None and row.disabled_at is None else None


async def secret_of(db: Database, name: str) -> str | None:
    async with db.session() as session:
        row = await integrations_repo.get_integration(session, name=name)
    return row.secret if row is not None and row.disabled_at is None else None


async def rotate_secret(db: Database, name: str, *, workspace_id: int | None = None) -> CreatedIntegration:
    """A new signing secret, returned this once; deliveries signed with the old one are refused from now on
    (billflow keeps one secret per integration: the booking system switches when the admin pastes the new one).
    Another workspace's integration than `workspace_id` (when given) is not found."""
    async with db.session() as session:
        row = await integrations_repo.get_integration(session, name=name, workspace_id=workspace_id)
        if row is None:
            raise IntegrationNotFound(f"no integration named {name!r}")
        row = await integrations_repo.replace_secret(session, integration=row, secret=_new_secret())
        return CreatedIntegration(
            name=row.name, created_at=row.created_at, rotated_at=row.secret_rotated_at, secret=row.secret
        )


class Delivery(BaseModel):
    """One received booking event as Settings > Integrations lists it."""

    id: int
    received_at: datetime
    event_id: str
    type: str
    verified_by: str  # "signature", or the staff API key that posted it
    outcome: str  # the answer's outcome, or "unfinished" while (or when) its handling did not complete
    invoice_number: str | None
    processed_at: datetime | None


class DeliveryPage(BaseModel):
    integration: IntegrationOut
    deliveries: list[Delivery]
    next_before: int | None  # the id to pass for the next (older) page; None: this is the last page


def _verified_by(sent_by: str | None, own: str) -> str:
    if sent_by is None:
        return "not recorded"  # received before billflow recorded the sender
    return "signature" if sent_by == own else f"API key ({sent_by})"


async def recent_deliveries(
    db: Database, name: str, *, before_id: int | None = None, per_page: int = 25, workspace_id: int | None = None
) -> DeliveryPage:
    async with db.session() as session:
        row = await integrations_repo.get_integration(session, name=name, workspace_id=workspace_id)
        if row is None:
            raise IntegrationNotFound(f"no integration named {name!r}")
        events = await inbox_repo.recent(
            session, source=InboxSource.booking, channel=name, before_id=before_id, limit=per_page + 1
        )
    own = integration_source(name)
    deliveries = [
        Delivery(
            id=e.id or 0,
            received_at=e.received_at,
            event_id=e.event_key,
            type=e.type,
            verified_by=_verified_by(e.sent_by, own),
            outcome=str(e.result.get("outcome") or "unfinished"),
            invoice_number=e.result.get("invoice_number"),
            processed_at=e.processed_at,
        )
        for e in events[:per_page]
    ]
    return DeliveryPage(
        integration=IntegrationOut(name=row.name, created_at=row.created_at, rotated_at=row.secret_rotated_at),
        deliveries=deliveries,
        next_before=deliveries[-1].id if len(events) > per_page else None,
    )
