"""Account emails: handed to the provider once per link; with a real provider the stored copy has no usable link."""

from __future__ import annotations

import uuid

from sqlmodel import select

from billflow.config import EmailBackend, Settings
from billflow.db import Database
from billflow.email.base import OutgoingEmail
from billflow.services import users
from billflow.services.account_mail import REDACTED, send_account_email
from models.api_keys import ApiRole
from models.email_messages import EmailMessage


class RecordingSender:
    name = "sendgrid"
    repeat_is_harmless = False

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    async def send(self, email: OutgoingEmail) -> str:
        self.sent.append(email)
        return f"sg-{len(self.sent)}"


async def test_a_provider_gets_the_link_and_the_database_keeps_none(db: Database, settings: Settings) -> None:
    real = settings.model_copy(update={"email_backend": EmailBackend.sendgrid})
    sender = RecordingSender()
    data = users.NewUser(email=f"inv-{uuid.uuid4().hex[:6]}@example.com", role=ApiRole.staff)
    link = await users.invite(db, real, sender, data, invited_by="Admin")
    assert len(sender.sent) == 1 and link.url in sender.sent[0].text
    async with db.session() as session:
        row = (await session.exec(select(EmailMessage).where(EmailMessage.id == link.message_id))).one()
    assert link.url not in row.body_text and REDACTED in row.body_text
    assert row.status == "sent" and row.provider_message_id == "sg-1"


async def test_an_account_email_is_handed_over_once_per_key(db: Database, settings: Settings) -> None:
    sender = RecordingSender()
    key = f"staff-token:test-{uuid.uuid4().hex[:8]}"
    context = {"link": "http://billflow.test/app/reset/x", "email": "a@example.com", "valid_minutes": "60"}
    args = {"key": key, "kind": "staff_reset", "to_email": "a@example.com", "template": "password_reset"}
    first = await send_account_email(db, settings, sender, context=context, **args)
    again = await send_account_email(db, settings, sender, context=context, **args)
    assert first == again and len(sender.sent) == 1


async def test_an_invitation_names_the_workspace_the_person_joins(db: Database, settings: Settings) -> None:
    from tests.workspaces.support import make_workspace

    ws = await make_workspace(db)
    assert ws.id is not None
    sender = RecordingSender()
    data = users.NewUser(email=f"inv-{uuid.uuid4().hex[:6]}@example.com", role=ApiRole.staff, workspace_id=ws.id)
    await users.invite(db, settings, sender, data, invited_by="Admin")
    assert ws.name in sender.sent[0].text and settings.business_name not in sender.sent[0].text
