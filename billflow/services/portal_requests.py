"""Portal self-service: a client enters their email address on the portal's sign-in page and gets a single-use
magic link by email.

The answer is the same whether or not the address is known (the page says "if we know this address, a link is on
its way"), and the email goes out after the answer (`send_links`, run in the background), so neither the page
nor its timing tells a stranger who is a client. Every request counts towards two limits over a moving hour,
known address or not: per address (a mailbox is not flooded) and per client IP (addresses are not probed in
bulk); a refused request is answered 429 and does not count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import portal as portal_repo
from billflow.services import portal
from models.clients import Client
from models.collections import PortalLink, PortalLinkRequest
from models.columns import utcnow

WINDOW = timedelta(hours=1)
MAX_PER_EMAIL = 3
MAX_PER_ADDRESS = 10
SIGN_IN_VALID = timedelta(minutes=30)
MAX_EMAIL = 320


class RequestInvalid(ValueError):
    """The form is wrong; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RequestThrottled(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("too many link requests: try again later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class PendingLink:
    """A link made for a request, to be emailed after the answer (its token exists nowhere else)."""

    client: Client
    link: PortalLink
    token: str


def email_hash(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def normalize_email(raw: str) -> str:
    """The address as compared with clients' (lower case); RequestInvalid naming `email` if it is not one."""
    value = raw.strip()
    if not value:
        raise RequestInvalid("email", "enter your email address")
    if len(value) > MAX_EMAIL or "\x00" in value:
        raise RequestInvalid("email", f"must be an email address of at most {MAX_EMAIL} characters")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise RequestInvalid("email", "must be an email address like name@example.com") from None
    return checked.normalized.lower()


async def request_link(db: Database, *, email: str, address: str) -> list[PendingLink]:
    """Count the request, and make a single-use link for each client with this address (none for a stranger).
    RequestInvalid for a malformed address, RequestThrottled over a limit (nothing counted, nothing made)."""
    normalized = normalize_email(email)
    hashed = email_hash(normalized)
    address = address[:64]
    now = utcnow()
    since = now - WINDOW
    async with db.session() as session:
        await portal_repo.lock_requests(session)  # two requests at once cannot both take the last one allowed
        by_email = await portal_repo.count_requests(session, since=since, email_hash=hashed)
        by_address = await portal_repo.count_requests(session, since=since, address=address)
        if by_email >= MAX_PER_EMAIL or by_address >= MAX_PER_ADDRESS:
            raise RequestThrottled(WINDOW)
        await portal_repo.add_request(session, request=PortalLinkRequest(email_hash=hashed, address=address, at=now))
        pending = []
        for client in await portal_repo.clients_by_email(session, email=normalized):
            link, token = await portal.create_link(session, client=client, valid=SIGN_IN_VALID, single_use=True)
            pending.append(PendingLink(client=client, link=link, token=token))
    return pending


async def send_links(db: Database, settings: Settings, pending: list[PendingLink]) -> None:
    """Email each link (once per link: the idempotency key is its id)."""
    for item in pending:
        await portal.email_link(db, settings, client=item.client, link=item.link, token=item.token)
