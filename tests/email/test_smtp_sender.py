"""The SMTP backend against a local SMTP server (aiosmtpd): multipart text + HTML + PDF, stable Message-ID."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from billflow.email.base import Attachment, DeliveryRejected, OutgoingEmail
from billflow.email.smtp import SmtpSender


class Catcher:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.reject_with: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reject_with:
            return self.reject_with
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Catcher, int]]:
    catcher = Catcher()
    port = _free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield catcher, port
    finally:
        controller.stop()


def _email() -> OutgoingEmail:
    return OutgoingEmail(
        idempotency_key="invoice-x:reminder-1",
        to_email="ada@example.com",
        from_email="invoices@studio.example",
        subject="Reminder: invoice INV-2026-000001",
        text="Hello Ada",
        html="<p>Hello Ada</p>",
        categories=["billflow", "reminder"],
        custom_args={"billflow_message_id": "9", "billflow_invoice_id": "3"},
        attachments=[Attachment(filename="INV-2026-000001.pdf", content_type="application/pdf", content=b"%PDF-1")],
    )


async def test_sends_multipart_mail_with_the_pdf(smtp_server: tuple[Catcher, int]) -> None:
    catcher, port = smtp_server
    sender = SmtpSender("127.0.0.1", port)
    first_id = await sender.send(_email())
    assert first_id == await sender.send(_email())  # the same message keeps its Message-ID on a retry
    envelope = catcher.messages[0]
    assert envelope.mail_from == "invoices@studio.example" and envelope.rcpt_tos == ["ada@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Message-ID"] == first_id
    assert message["X-Billflow-Invoice-Id"] == "3"
    assert message.get_body(("plain",)).get_content().strip() == "Hello Ada"
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello Ada</p>"
    (pdf,) = list(message.iter_attachments())
    assert pdf.get_filename() == "INV-2026-000001.pdf" and pdf.get_content() == b"%PDF-1"


async def test_permanent_and_transient_smtp_replies(smtp_server: tuple[Catcher, int]) -> None:
    catcher, port = smtp_server
    catcher.reject_with = "550 5.1.1 mailbox unavailable"
    with pytest.raises(DeliveryRejected) as permanent:
        await SmtpSender("127.0.0.1", port).send(_email())
    assert permanent.value.permanent is True
    catcher.reject_with = "451 4.3.0 try again later"
    with pytest.raises(DeliveryRejected) as transient:
        await SmtpSender("127.0.0.1", port).send(_email())
    assert transient.value.permanent is False


async def test_no_server_is_a_transient_rejection() -> None:
    with pytest.raises(DeliveryRejected) as caught:
        await SmtpSender("127.0.0.1", _free_port(), timeout_seconds=2).send(_email())
    assert caught.value.permanent is False
