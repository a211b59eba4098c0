"""Account emails (invitation, password reset) through billflow's email sender, claimed once by idempotency key.

The stored copy (email_messages) carries the one-time link only when the outbox backend is the delivery itself
(development); with a real provider the row keeps a redacted body, so the database never holds a usable link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billflow.config import EmailBackend, Settings
from billflow.db import Database
from billflow.email.base import DeliveryRejected, DeliveryUnknown, EmailSender, OutgoingEmail
from billflow.email.render import render_email
from billflow.repositories import messages as messages_repo
from models.email_messages import EmailMessage
from models.enums import MessageStatus

REDACTED = "[one-time link removed from the stored copy]"


class AccountEmailFailed(Exception):
    """The provider refused the message."""


async def send_account_email(
    db: Database,
    settings: Settings,
    sender: EmailSender,
    *,
    key: str,
    kind: str,
    to_email: str,
    template: str,
    context: dict[str, Any],
) -> int:
    """Render, claim the row under `key`, hand it over once; returns the message id."""
    rendered = render_email(template, {"business_name": settings.business_name, **context})
    stored_text = rendered.text
    if settings.email_backend is not EmailBackend.outbox:
        stored_text = stored_text.replace(str(context["link"]), REDACTED)
    async with db.session() as session:
        message = await messages_repo.claim_message(
            session,
            message=EmailMessage(
                idempotency_key=key,
                kind=kind,
                to_email=to_email,
                subject=rendered.subject,
                body_text=stored_text,
                backend=sender.name,
                attempts=1,
            ),
        )
        assert message.id is not None
        message_id = message.id
        if message.status != MessageStatus.claimed or message.provider_message_id is not None:
            return message_id  # already handed over under this key: never twice
    outgoing = OutgoingEmail(
        idempotency_key=key,
        to_email=to_email,
        from_email=settings.from_email,
        subject=rendered.subject,
        text=rendered.text,
        categories=["billflow", kind],
        custom_args={"billflow_message_id": str(message_id), "billflow_kind": kind},
    )
    status, provider_id, error = MessageStatus.sent, None, None
    try:
        provider_id = await sender.send(outgoing)
    except DeliveryUnknown as err:
        status, error = MessageStatus.unknown, str(err)
    except DeliveryRejected as err:
        status, error = MessageStatus.failed, str(err)
    async with db.session() as session:
        row = await messages_repo.get_message(session, message_id=message_id, for_update=True)
        assert row is not None
        row.status, row.error, row.updated_at = status, error, datetime.now(UTC)
        if provider_id is not None:
            row.provider_message_id, row.sent_at = provider_id, row.updated_at
        session.add(row)
    if status is MessageStatus.failed:
        raise AccountEmailFailed(error or "the email provider refused the message")
    return message_id
