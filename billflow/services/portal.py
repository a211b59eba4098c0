"""The client portal: a magic link by email (no password) shows one client their invoices, credit notes and
payments, with pay links. Only the link's SHA-256 is stored; links expire and can be revoked.

Two kinds of link: the one staff send (`issue_link`, usable until it expires), and the single-use one a client
asks for on the sign-in page (billflow.services.portal_requests): opening it once (`open_sign_in_link`) makes a
short-lived browsing link and uses the emailed one up."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.email.render import render_email
from billflow.repositories import clients as clients_repo
from billflow.repositories import portal as portal_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.services.document_files import render_number_pdf
from models.clients import Client
from models.collections import PortalLink
from models.columns import utcnow
from models.credit_notes import CreditNote
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.payments import Payment

MAX_DAYS = 90
# A browsing link made by opening a single-use sign-in link: long enough for a visit, short if it leaks.
BROWSE_VALID = timedelta(hours=12)


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
class PortalCreditNote:
    note: CreditNote
    invoice_number: str


@dataclass(frozen=True)
class PortalView:
    client: Client
    invoices: list[Invoice]
    payments: list[Payment]
    expires_at: datetime
    credit_notes: list[PortalCreditNote]
    business_name: str | None = None  # the client's workspace's name (None: the installation's)


def _usable(link: PortalLink | None, now: datetime) -> bool:
    return link is not None and link.revoked_at is None and link.expires_at > now


async def issue_link(
    db: Database, settings: Settings, *, external_id: str, source: str | None = None, days: int = 7
) -> IssuedLink:
    """Create a link for the client (by external id, and source when several sources use it) and email it."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: must be between 1 and {MAX_DAYS}")
    async with db.session() as session:
        found = await clients_repo.find_clients(session, external_id=external_id, source=source)
        if not found:
            raise ClientNotFound(f"no client with external id {external_id}")
        if len(found) > 1:
            raise ClientNotFound(f"several sources use the external id {external_id}: give the source")
        client = found[0]
        link, token = await create_link(session, client=client, valid=timedelta(days=days))
    return await email_link(db, settings, client=client, link=link, token=token)


async def create_link(
    session: AsyncSession,
    *,
    client: Client,
    valid: timedelta,
    single_use: bool = False,
    parent_id: int | None = None,
) -> tuple[PortalLink, str]:
    """A new link for the client in the caller's transaction; returns the row and its token (never stored)."""
    assert client.id is not None
    token = secrets.token_urlsafe(32)
    link = PortalLink(
        client_id=client.id,
        token_hash=token_hash(token),
        expires_at=utcnow() + valid,
        single_use=single_use,
        parent_id=parent_id,
    )
    session.add(link)
    await session.flush()
    assert link.id is not None
    return link, token


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/p/{token}"


async def email_link(db: Database, settings: Settings, *, client: Client, link: PortalLink, token: str) -> IssuedLink:
    """Email the link to the client once (the idempotency key is the link's id)."""
    assert link.id is not None
    url = link_url(settings, token)
    async with db.session() as session:
        workspace = await workspaces_repo.get_workspace(session, workspace_id=client.workspace_id)
    rendered = render_email(
        "portal_link",
        {
            "client": client,
            "portal_url": url,
            "expires_at": f"{link.expires_at:%Y-%m-%d %H:%M}",
            "single_use": link.single_use,
            "business_name": workspace.name if workspace is not None else settings.business_name,
        },
    )
    message = EmailMessage(
        idempotency_key=f"portal-link:{link.id}",
        client_id=client.id,
        kind="portal_link",
        to_email=client.email,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        backend=build_email_sender(settings).name,
    )
    sent = await EmailActivities(db, build_email_sender(settings), settings).send_rendered(message)
    return IssuedLink(link_id=link.id, url=url, expires_at=link.expires_at, message_id=sent.message_id)


async def open_portal(db: Database, *, token: str, now: datetime | None = None) -> PortalView | None:
    """What the link shows, or None if it is unknown, expired or revoked (the caller answers 404 alike)."""
    now = now or utcnow()
    async with db.session() as session:
        link = await portal_repo.get_link(session, token_hash=token_hash(token))
        if link is None or link.single_use or not _usable(link, now):
            return None  # a single-use sign-in link shows nothing itself: it is exchanged once (open_sign_in_link)
        client = await clients_repo.get_client(session, client_id=link.client_id)
        assert client is not None
        invoices = list(await portal_repo.client_invoices(session, client_id=link.client_id))
        payments = list(await portal_repo.client_payments(session, client_id=link.client_id))
        notes = [
            PortalCreditNote(note=note, invoice_number=number)
            for note, number in await portal_repo.client_credit_notes(session, client_id=link.client_id)
        ]
        workspace = await workspaces_repo.get_workspace(session, workspace_id=client.workspace_id)
    return PortalView(
        client=client,
        invoices=invoices,
        payments=payments,
        expires_at=link.expires_at,
        credit_notes=notes,
        business_name=workspace.name if workspace is not None else None,
    )


async def credit_note_pdf(db: Database, settings: Settings, *, token: str, number: str) -> bytes | None:
    """The PDF of one of the link's client's credit notes, as issued; None for a bad link or another client's
    (or no such) credit note, which the caller answers 404 alike."""
    async with db.session() as session:
        link = await portal_repo.get_link(session, token_hash=token_hash(token))
        if link is None or link.single_use or not _usable(link, utcnow()):
            return None
        note = await portal_repo.get_client_credit_note(session, client_id=link.client_id, number=number)
        if note is None:
            return None
        return await render_number_pdf(session, number=note.number, settings=settings)


async def sign_in_link_usable(db: Database, *, token: str) -> bool:
    """Whether this is a single-use link that can still be opened (to show its confirm button)."""
    async with db.session() as session:
        link = await portal_repo.get_link(session, token_hash=token_hash(token))
    return link is not None and link.single_use and link.used_at is None and _usable(link, utcnow())


async def open_sign_in_link(db: Database, *, token: str) -> str | None:
    """Use the single-use link up and return the token of a new browsing link; None if it is unknown, used,
    expired or revoked (one of two concurrent opens wins: the row is locked)."""
    async with db.session() as session:
        link = await portal_repo.get_link(session, token_hash=token_hash(token), for_update=True)
        now = utcnow()
        if link is None or not link.single_use or link.used_at is not None or not _usable(link, now):
            return None
        link.used_at = now
        session.add(link)
        client = await clients_repo.get_client(session, client_id=link.client_id)
        assert client is not None
        _, browse = await create_link(session, client=client, valid=BROWSE_VALID, parent_id=link.id)
    return browse


async def revoke_link(db: Database, *, link_id: int) -> bool:
    """Revoke the link at once; False if there is no such link."""
    async with db.session() as session:
        link = await portal_repo.get_link(session, link_id=link_id, for_update=True)
        if link is None:
            return False
        link.revoked_at = link.revoked_at or utcnow()
        session.add(link)
        await portal_repo.revoke_children(session, parent_id=link_id, at=link.revoked_at)
    return True
