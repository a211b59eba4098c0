"""The email activity with the real SendGrid backend: the PDF goes along, a timeout is never re-sent blindly."""

from __future__ import annotations

import base64

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.repositories import messages as messages_repo
from models.enums import EmailKind, MessageStatus
from models.money import format_money
from models.workflow_io import SendEmailInput
from tests.standins.fixtures import start_and_wait_issued
from tests.standins.sendgrid_api import SendGridStandIn
from tests.standins.server import Fault
from tests.workspaces.support import make_workspace


async def test_reminder_goes_out_once_with_pdf_links_and_custom_args(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    sendgrid_settings: Settings,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, _ = sendgrid_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    activities = EmailActivities(db, build_email_sender(sendgrid_settings), sendgrid_settings)
    data = SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.reminder, idempotency_key=f"{invoice.id}:rem-1")
    first = await activities.send_invoice_email(data)
    again = await activities.send_invoice_email(data)
    assert (first.already_sent, again.already_sent) == (False, True)
    assert first.provider_message_id == again.provider_message_id == "sg-msg-00001"
    (mail,) = standin.mails
    assert mail["custom_args"] == {
        "billflow_message_id": str(first.message_id),
        "billflow_invoice_id": str(invoice.id),
        "billflow_kind": "reminder",
    }
    assert mail["categories"] == ["billflow", "reminder"]
    text, html = (c["value"] for c in mail["content"])
    for body in (text, html):
        assert f"http://billflow.test/pay/{invoice.public_token}" in body
        assert f"http://billflow.test/i/{invoice.public_token}" in body
    (attachment,) = mail["attachments"]
    assert attachment["filename"] == f"{invoice.number}.pdf"
    assert base64.b64decode(attachment["content"]).startswith(b"%PDF-")


async def test_timeout_is_recorded_unknown_and_not_sent_again(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    sendgrid_settings: Settings,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, _ = sendgrid_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    standin.inject(Fault(delay=2.5))  # longer than the 1 s timeout
    activities = EmailActivities(db, build_email_sender(sendgrid_settings), sendgrid_settings)
    data = SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.overdue, idempotency_key=f"{invoice.id}:od-1")
    first = await activities.send_invoice_email(data)
    second = await activities.send_invoice_email(data)
    assert first.provider_message_id is None and second.already_sent
    assert len(standin.requests) == 1
    async with db.session() as session:
        message = await messages_repo.get_message(session, idempotency_key=data.idempotency_key)
    assert message is not None and message.status == MessageStatus.unknown


async def test_a_workspaces_invoice_goes_out_with_its_sender_identity(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    sendgrid_settings: Settings,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    """Issue 13: the From name and address and the Reply-To are the issuing workspace's; the installation's
    BILLFLOW_FROM_EMAIL stays the default of workspaces without their own."""
    standin, _ = sendgrid_api
    ws = await make_workspace(
        db, sender_name="Studio Nord", sender_email="rechnung@studio-nord.example", reply_to="buero@studio-nord.example"
    )
    plain = await make_workspace(db)
    activities = EmailActivities(db, build_email_sender(sendgrid_settings), sendgrid_settings)
    for workspace in (ws, plain):
        invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace.id)
        data = SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.overdue, idempotency_key=f"{invoice.id}:od")
        await activities.send_invoice_email(data)
    own, default = (r.json for r in standin.requests)
    assert own["from"] == {"email": "rechnung@studio-nord.example", "name": "Studio Nord"}
    assert own["reply_to"] == {"email": "buero@studio-nord.example"}
    assert default["from"] == {"email": sendgrid_settings.from_email} and "reply_to" not in default


async def test_a_workspaces_email_names_it_and_writes_amounts_in_its_locale(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    sendgrid_settings: Settings,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, _ = sendgrid_api
    ws = await make_workspace(db, locale="de_DE")
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=ws.id)
    activities = EmailActivities(db, build_email_sender(sendgrid_settings), sendgrid_settings)
    data = SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.overdue, idempotency_key=f"{invoice.id}:od")
    await activities.send_invoice_email(data)
    [sent] = standin.requests
    text = next(part["value"] for part in sent.json["content"] if part["type"] == "text/plain")
    assert ws.name in text and sendgrid_settings.business_name not in text
    amount = format_money(invoice.balance_minor, invoice.currency, "de_DE")
    assert "," in amount and amount in text  # '1.234,50 £' rather than '£1,234.50'
