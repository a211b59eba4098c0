from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field


class Attachment(BaseModel):
    filename: str
    content_type: str
    content: bytes


class OutgoingEmail(BaseModel):
    idempotency_key: str
    to_email: str
    from_email: str
    # The issuing workspace's sender identity (issue 13): the From name and the Reply-To address, when it has them.
    from_name: str | None = None
    reply_to: str | None = None
    subject: str
    text: str
    html: str | None = None
    categories: list[str] = Field(default_factory=list)
    custom_args: dict[str, str] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)


class DeliveryRejected(Exception):
    """The provider definitely did not accept the message; safe to try again (or, if permanent, never)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class DeliveryUnknown(Exception):
    """The provider may or may not have accepted the message (timeout, dropped connection)."""


class EmailSender(Protocol):
    name: str
    # True when handing the same message over twice cannot deliver it twice (nothing leaves the machine, or the
    # provider de-duplicates): then an attempt that died before its answer was recorded is simply repeated.
    repeat_is_harmless: bool

    async def send(self, email: OutgoingEmail) -> str:
        """Hand the message to the provider; return its message id."""
        ...
