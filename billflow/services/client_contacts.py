"""Contact edits by staff (name, email, time zone), each recorded on the client's timeline.

A new address clears the bounce flag (the old address bounced, not this one). Running invoices read the client's
contact when they send, so the next email goes to the new address; a new time zone applies to dates planned
from now on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, EmailStr, Field

from billflow.db import Database
from billflow.repositories import timeline as timeline_repo
from billflow.services.clients import require_client
from models.workflow_io import TimeZoneName


class ContactChange(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    email: EmailStr = Field(max_length=320)
    timezone: TimeZoneName


async def change_contact(
    db: Database,
    external_id: str,
    change: ContactChange,
    *,
    actor: str,
    source: str | None = None,
    workspace_id: int | None = None,
) -> list[str]:
    """Apply the change in one transaction with its timeline event; returns what changed (empty: nothing).
    `source` is needed only when several sources use the external id (AmbiguousClient otherwise); with
    `workspace_id` only that workspace's clients exist."""
    async with db.session() as session:
        client = await require_client(session, external_id, source=source, workspace_id=workspace_id)
        assert client.id is not None
        changed = []
        for field in ("name", "email", "timezone"):
            before, after = getattr(client, field), str(getattr(change, field))
            if before != after:
                changed.append(f"{field} {before} → {after}")
                setattr(client, field, after)
        if not changed:
            return []
        if any(c.startswith("email ") for c in changed):
            client.email_bounced = False
        client.updated_at = datetime.now(UTC)
        session.add(client)
        await timeline_repo.add_event(
            session,
            client_id=client.id,
            kind="client.contact_changed",
            message="Contact changed: " + "; ".join(changed),
            data={"actor": actor},
        )
    return changed
