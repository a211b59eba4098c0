"""The client portal: a magic link by email (no password) shows one client their invoices and payments, with
pay links. Only the link's SHA-256 is stored; links expire and can be revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.email.render import render_email
from billflow.repositories import clients as clients_repo
from billflow.repositories import portal as portal_repo
from models.clients import Client
from models.collections import PortalLink
from models.columns import utcnow
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.payments import Payment

MAX_DAYS = 90


class ClientNotFound(LookupError):
    pass


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    link_id: int
    url: str
    expires_at: datetime
    message_id: int


@dataclass(frozen=True)
class PortalView:
    client: Client
    invoices: list[Invoice]
    payments: list[Payment]
    expires_at: datetime


async def issue_link(
    db: Database, settings: Settings, *, external_id: str, source: str | None = None, days: int = 7
) -> IssuedLink:
    """Create a link for the client (by external id, and source when several sources use it) and email it."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: must be between 1 and {MAX_DAYS}")
    token = secrets.token_urlsafe(32)
    async with db.session() as session:
        found = await clients_repo.find_clients(session, external_id=external_id, source=source)
        if not found:
            raise ClientNotFound(f"no client with external id {external_id}")
        if len(found) > 1:
            raise ClientNotFound(f"several sources use the external id {external_id}: give the source")
        client = found[0]
        assert client.id is not None
        link = PortalLink(client_id=client.id, token_hash=token_hash(token), expires_at=utcnow() + timedelta(days=days))
        session.add(link)
        await session.flush()
        assert link.id is not None
        link_id, expires_at = link.id, link.expires_at
    url = f"{settings.public_base_url.rstrip('/')}/p/{token}"
    rendered = render_email(
        "portal_link",
        {
            "client": client,
            "portal_url": url,
            "expires_at": f"{expires_at:%Y-%m-%d %H:%M}",
            "business_name": settings.business_name,
        },
    )
    message = EmailMessage(
        idempotency_key=f"portal-link:{link_id}",
        client_id=client.id,
        kind="portal_link",
        to_email=client.email,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        backend=build_email_sender(settings).name,
    )
    sent = await EmailActivities(db, build_email_sender(settings), settings).send_rendered(message)
    return IssuedLink(link_id=link_id, url=url, expires_at=expires_at, message_id=sent.message_id)


async def open_portal(db: Database, *, token: str, now: datetime | None = None) -> PortalView | None:
    """What the link shows, or None if it is unknown, expired or revoked (the caller answers 404 alike)."""
    now = now or utcnow()
    async with db.session() as session:
        link = await portal_repo.get_link(session, token_hash=token_hash(token))
        if link is None or link.revoked_at is not None or link.expires_at <= now:
            return None
        client = await clients_repo.get_client(session, client_id=link.client_id)
        assert client is not None
        invoices = list(await portal_repo.client_invoices(session, client_id=link.client_id))
        payments = list(await portal_repo.client_payments(session, client_id=link.client_id))
    return PortalView(client=client, invoices=invoices, payments=payments, expires_at=link.expires_at)


async def revoke_link(db: Database, *, link_id: int) -> bool:
    """Revoke the link at once; False if there is no such link."""
    async with db.session() as session:
        link = await portal_repo.get_link(session, link_id=link_id, for_update=True)
        if link is None:
            return False
        link.revoked_at = link.revoked_at or utcnow()
        session.add(link)
    return True
