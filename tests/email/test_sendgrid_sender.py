"""The SendGrid backend: the exact v3 request, and what each failure means for a resend."""

from __future__ import annotations

import base64

import pytest

from billflow.email.base import Attachment, DeliveryRejected, DeliveryUnknown, OutgoingEmail
from billflow.email.sendgrid import SendGridSender
from tests.standins.sendgrid_api import SendGridStandIn
from tests.standins.server import Fault


def _email(**overrides: object) -> OutgoingEmail:
    values: dict = {
        "idempotency_key": "invoice-x:issued",
        "to_email": "ada@example.com",
        "from_email": "invoices@studio.example",
        "subject": "Invoice INV-2026-000001",
        "text": "Hello Ada",
        "html": "<p>Hello Ada</p>",
        "categories": ["billflow", "invoice_issued"],
        "custom_args": {"billflow_message_id": "7", "billflow_invoice_id": "3", "billflow_kind": "invoice_issued"},
        "attachments": [Attachment(filename="INV-2026-000001.pdf", content_type="application/pdf", content=b"%PDF")],
    }
    return OutgoingEmail(**(values | overrides))


async def test_sends_the_exact_v3_request_and_returns_the_message_id(
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, url = sendgrid_api
    sender = SendGridSender("SG.key", host=url, sandbox=True)
    assert await sender.send(_email()) == "sg-msg-00001"
    (request,) = standin.requests
    assert request.headers["authorization"] == "Bearer SG.key"
    assert request.json == {
        "from": {"email": "invoices@studio.example"},
        "subject": "Invoice INV-2026-000001",
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "content": [{"type": "text/plain", "value": "Hello Ada"}, {"type": "text/html", "value": "<p>Hello Ada</p>"}],
        "attachments": [
            {
                "content": base64.b64encode(b"%PDF").decode(),
                "filename": "INV-2026-000001.pdf",
                "type": "application/pdf",
                "disposition": "attachment",
                "content_id": "INV-2026-000001.pdf",
            }
        ],
        "categories": ["billflow", "invoice_issued"],
        "custom_args": {"billflow_message_id": "7", "billflow_invoice_id": "3", "billflow_kind": "invoice_issued"},
        "mail_settings": {"sandbox_mode": {"enable": True}},
    }


async def test_dynamic_template_per_kind(sendgrid_api: tuple[SendGridStandIn, str]) -> None:
    standin, url = sendgrid_api
    sender = SendGridSender("SG.key", host=url, template_ids={"invoice_issued": "d-123"})
    await sender.send(_email())
    await sender.send(_email(custom_args={"billflow_kind": "receipt"}))
    templated, plain = (r.json for r in standin.requests)
    assert templated["template_id"] == "d-123"
    assert "content" not in templated
    assert templated["personalizations"][0]["dynamic_template_data"]["subject"] == "Invoice INV-2026-000001"
    assert "template_id" not in plain and plain["content"][0]["value"] == "Hello Ada"


@pytest.mark.parametrize(("status", "permanent"), [(429, False), (500, False), (503, False), (400, True)])
async def test_http_failures_are_rejections(
    sendgrid_api: tuple[SendGridStandIn, str], status: int, permanent: bool
) -> None:
    standin, url = sendgrid_api
    standin.inject(Fault(status=status, message="The from address does not match a verified Sender Identity"))
    with pytest.raises(DeliveryRejected) as caught:
        await SendGridSender("SG.key", host=url).send(_email())
    assert caught.value.permanent is permanent
    assert "verified Sender Identity" in str(caught.value)


async def test_timeout_is_an_unknown_outcome(sendgrid_api: tuple[SendGridStandIn, str]) -> None:
    standin, url = sendgrid_api
    standin.inject(Fault(delay=2.0))
    with pytest.raises(DeliveryUnknown):
        await SendGridSender("SG.key", host=url, timeout_seconds=0.5).send(_email())


async def test_refused_connection_is_a_transient_rejection() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(DeliveryRejected) as caught:
        await SendGridSender("SG.key", host=f"http://127.0.0.1:{port}").send(_email())
    assert caught.value.permanent is False


async def test_the_workspaces_sender_name_and_reply_to_are_in_the_request(
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, url = sendgrid_api
    sender = SendGridSender("SG.key", host=url, sandbox=True)
    await sender.send(_email(from_name="Studio Nord", reply_to="buero@studio.example"))
    (request,) = standin.requests
    assert request.json["from"] == {"email": "invoices@studio.example", "name": "Studio Nord"}
    assert request.json["reply_to"] == {"email": "buero@studio.example"}
