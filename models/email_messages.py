"""Every email billflow sends; the unique idempotency key is claimed before the provider is called."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from models.columns import instant, text_enum, workspace_fk
from models.enums import MessageStatus


class EmailMessage(SQLModel, table=True):
    __tablename__ = "email_messages"
    __table_args__ = (
        # Reminder-effectiveness report: the reminders sent in a window, with step and invoice, from the index.
        Index(
            "ix_email_messages_reminders_sent",
            "sent_at",
            postgresql_include=["reminder_step", "invoice_id"],
            postgresql_where=text("reminder_step IS NOT NULL"),
        ),
        # The same per workspace (issue 13): one workspace's reminders without reading the others'.
        Index(
            "ix_email_messages_ws_reminders_sent",
            "workspace_id",
            "sent_at",
            postgresql_include=["reminder_step", "invoice_id"],
            postgresql_where=text("reminder_step IS NOT NULL"),
        ),
        # The unsettled-email sweep: the few messages whose hand-over has no answer, oldest first.
        Index(
            "ix_email_messages_unsettled",
            "updated_at",
            postgresql_where=text("status IN ('unknown', 'claimed')"),
        ),
        # The overview's "needs attention": emails that failed recently, newest first (a few rows of millions).
        Index(
            "ix_email_messages_failed",
            "updated_at",
            postgresql_where=text("status IN ('failed', 'bounced', 'dropped', 'spam', 'unknown')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()  # its invoice's (or client's) workspace
    idempotency_key: str = Field(max_length=300, unique=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    client_id: int | None = Field(default=None, foreign_key="clients.id", index=True)
    kind: str = Field(max_length=32)
    reminder_step: int | None = None
    to_email: str = Field(max_length=320)
    subject: str = Field(max_length=500)
    body_text: str
    body_html: str | None = None
    backend: str = Field(max_length=32)
    provider_message_id: str | None = Field(default=None, max_length=200, index=True)
    status: str = text_enum(MessageStatus.claimed)
    error: str | None = Field(default=None, max_length=2000)
    attempts: int = 0
    created_at: datetime = instant(nullable=False, default_now=True)
    sent_at: datetime | None = instant()
    updated_at: datetime = instant(nullable=False, default_now=True)
    # The credit note a message carries (issue 14), so a re-send attaches it again.
    credit_note_id: int | None = Field(default=None, foreign_key="credit_notes.id")
