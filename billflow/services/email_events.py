"""How clients engage with what billflow sends: invoice views, and (below) SendGrid delivery events."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories import clients as clients_repo
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import timeline as timeline_repo
from models.columns import utcnow
from models.email_messages import EmailMessage
from models.enums import MessageStatus
from models.inbox import InboxSource


async def record_invoice_viewed(
    session: AsyncSession, *, invoice_id: int, source: str, at: datetime | None = None
) -> bool:
    """Set viewed_at on the first view (page visit or email open) with one timeline event; later views change
    nothing. True if this was the first view."""
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id, for_update=True)
    if invoice is None or invoice.viewed_at is not None:
        return False
    invoice.viewed_at = at or utcnow()
    invoice.updated_at = utcnow()
    session.add(invoice)
    await timeline_repo.add_event(
        session,
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        kind="invoice.viewed",
        message=f"Invoice {invoice.number} first viewed ({source})",
        data={"source": source},
        key=f"invoice:{invoice.id}:viewed",
    )
    await session.flush()
    return True


# --- SendGrid event webhook ----------------------------------------------------------------------------

# Later states never fall back to earlier ones, so out-of-order and repeated events are harmless.
_RANK = {
    MessageStatus.claimed: 0,
    MessageStatus.unknown: 0,
    MessageStatus.failed: 0,
    MessageStatus.sent: 1,
    MessageStatus.delivered: 2,
    MessageStatus.opened: 3,
    MessageStatus.bounced: 4,
    MessageStatus.dropped: 4,
    MessageStatus.spam: 4,
}
_EVENT_STATUS = {
    # processed/deferred: SendGrid accepted the message. They settle one whose hand-over had no answer
    # (`unknown`), so the unsettled-email sweep never sends it again.
    "processed": MessageStatus.sent,
    "deferred": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "open": MessageStatus.opened,
    "click": MessageStatus.opened,
    "bounce": MessageStatus.bounced,
    "dropped": MessageStatus.dropped,
    "spamreport": MessageStatus.spam,
}


MAX_EVENTS = 5000  # SendGrid batches at most a few thousand events per POST


# billflow's own custom args (strings, as SendGrid sends them): ids that fit a bigint.
_CustomId = Annotated[str, Field(max_length=18)] | Annotated[int, Field(ge=0, le=2**63 - 1), Strict()]


class _SendGridEvent(BaseModel):
    """The fields billflow reads from one event; SendGrid's others pass through untouched."""

    model_config = ConfigDict(extra="allow")
    event: Annotated[str, Field(max_length=64)] | None = None
    timestamp: Annotated[int, Field(ge=0, le=253_402_300_799)] | None = None  # Unix seconds, datetime's range
    sg_event_id: Annotated[str, Field(max_length=255)] | None = None
    sg_message_id: Annotated[str, Field(max_length=1000)] | None = None
    billflow_message_id: _CustomId | None = None
    billflow_invoice_id: _CustomId | None = None


_BATCH = TypeAdapter(Annotated[list[_SendGridEvent], Field(max_length=MAX_EVENTS)])


class MalformedEvents(ValueError):
    """A verified delivery that is not a batch of SendGrid events billflow can read; names the field."""


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    """The batch as dicts, after checking every field billflow reads from every event: all or nothing."""
    try:
        events = json.loads(raw)
    except ValueError:
        raise MalformedEvents("body is not JSON") from None
    try:
        _BATCH.validate_python(events)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
        raise MalformedEvents(f"body must be a JSON array of SendGrid events: {problems}") from None
    return list(events)


@dataclass(frozen=True)
class EmailEventOutcome:
    outcome: str
    bounced_invoice_id: int | None = None  # staff must be told: the client's address bounced


def event_key(event: dict[str, Any]) -> str:
    """SendGrid's sg_event_id, or (older accounts) a digest of the event itself."""
    if event.get("sg_event_id"):
        return str(event["sg_event_id"])
    return hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()


async def apply_sendgrid_event(session: AsyncSession, event: dict[str, Any]) -> EmailEventOutcome:
    """Store the event once and bring the message (and invoice, client) up to date."""
    kind = str(event.get("event", ""))
    stored = await inbox_repo.claim(
        session, source=InboxSource.sendgrid, event_key=event_key(event), type=kind, payload=event
    )
    if stored.processed_at is not None:
        return EmailEventOutcome("duplicate")
    result = await _apply(session, kind, event)
    invoice_id = result.bounced_invoice_id or _int(event.get("billflow_invoice_id"))
    await inbox_repo.record(session, event=stored, outcome=result.outcome, invoice_id=invoice_id)
    return result


async def _apply(session: AsyncSession, kind: str, event: dict[str, Any]) -> EmailEventOutcome:
    status = _EVENT_STATUS.get(kind)
    if status is None:
        return EmailEventOutcome("ignored")
    message = await _find_message(session, event)
    if message is None:
        return EmailEventOutcome("unknown message")
    at = datetime.fromtimestamp(int(event.get("timestamp") or utcnow().timestamp()), UTC)
    if _RANK[status] > _RANK.get(MessageStatus(message.status), 0):
        message.status = status
        if status is MessageStatus.bounced or status is MessageStatus.dropped:
            message.error = str(event.get("reason") or kind)[:2000]
        if message.provider_message_id is None:  # the hand-over's answer was lost: SendGrid's id from its event
            message.provider_message_id = str(event.get("sg_message_id") or "").split(".", 1)[0][:200] or None
            message.sent_at = message.sent_at or at
        message.updated_at = utcnow()
        session.add(message)
    if status is MessageStatus.opened and message.invoice_id is not None:
        await record_invoice_viewed(session, invoice_id=message.invoice_id, source=f"email {kind}", at=at)
        return EmailEventOutcome(kind)
    if status is MessageStatus.bounced and message.client_id is not None:
        return await _bounced(session, message, event)
    return EmailEventOutcome(kind)


async def _bounced(session: AsyncSession, message: EmailMessage, event: dict[str, Any]) -> EmailEventOutcome:
    client = await clients_repo.get_client(session, client_id=message.client_id)
    if client is None:
        return EmailEventOutcome("bounce")
    first = not client.email_bounced
    client.email_bounced = True
    client.updated_at = utcnow()
    session.add(client)
    reason = str(event.get("reason") or "no reason given")
    await timeline_repo.add_event(
        session,
        client_id=client.id or 0,
        invoice_id=message.invoice_id,
        kind="email.bounced",
        message=f"Email to {message.to_email} bounced: {reason}",
        data={"message_id": message.id, "reason": reason[:500]},
        key=f"email:{message.id}:bounced",
    )
    return EmailEventOutcome("bounce", bounced_invoice_id=message.invoice_id if first else None)


async def _find_message(session: AsyncSession, event: dict[str, Any]) -> EmailMessage | None:
    """By billflow's custom arg first; else by SendGrid's message id (its part before the first dot)."""
    message_id = _int(event.get("billflow_message_id"))
    if message_id is not None:
        found = await messages_repo.get_message(session, message_id=message_id, for_update=True)
        if found is not None:
            return found
    sg_id = str(event.get("sg_message_id") or "").split(".", 1)[0]
    if sg_id:
        return await messages_repo.get_message(session, provider_message_id=sg_id, for_update=True)
    return None


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) <= 18 else None  # beyond 18 digits: not a bigint id
