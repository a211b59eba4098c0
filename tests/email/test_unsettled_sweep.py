"""Unsettled emails (handed to SendGrid, no answer recorded): SendGrid's `processed` event settles one that
arrived; one that never arrived is re-sent by the sweep, once, and only with evidence that events flow."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.repositories import messages as messages_repo
from models.columns import DEFAULT_WORKSPACE_ID
from models.email_messages import EmailMessage
from models.enums import EmailKind, MessageStatus
from models.invoices import Invoice
from models.workflow_io import ResendUnsettledInput, SendEmailInput
from tests.email.conftest import EventSigner, load_message
from tests.standins.fixtures import start_and_wait_issued
from tests.standins.sendgrid_api import SendGridStandIn
from tests.standins.server import Fault
from tests.workspaces.support import make_invoice, make_workspace


@pytest.fixture(autouse=True)
async def clean_slate(db: Database) -> None:
    """The sweep looks at the whole (session-wide) database: settle earlier tests' unsettled SendGrid messages
    and forget their SendGrid events, so each test starts with no evidence either way."""
    async with db.session() as session:
        await session.exec(  # type: ignore[call-overload]
            text("UPDATE email_messages SET status = 'failed' WHERE status IN ('unknown', 'claimed')")
        )
        await session.exec(text("DELETE FROM inbox_events WHERE source = 'sendgrid'"))  # type: ignore[call-overload]


@pytest.fixture
def email(db: Database, sendgrid_settings: Settings) -> EmailActivities:
    """The email activities on billflow's SendGrid backend, pointed at the stand-in."""
    return EmailActivities(db, build_email_sender(sendgrid_settings), sendgrid_settings)


async def _post_event(http: httpx.AsyncClient, signer: EventSigner, event: dict[str, object]) -> None:
    body = json.dumps([event]).encode()
    response = await http.post("/webhooks/sendgrid", content=body, headers=signer.headers(body))
    assert response.status_code == 200, response.text


def _processed(message_id: int | None, sg_id: str, n: int) -> dict[str, object]:
    return {
        "email": "client@example.com",
        "timestamp": 1764000000 + n,
        "event": "processed",
        "sg_event_id": f"sg-processed-{message_id}-{n}",
        "sg_message_id": f"{sg_id}.filter0001",
        "billflow_message_id": str(message_id),
    }


async def _unsettled(db: Database, invoice: Invoice, *, handed_over: datetime, key: str) -> EmailMessage:
    """A reminder whose hand-over to SendGrid died before any answer (the worker was killed)."""
    async with db.session() as session:
        message = await messages_repo.claim_message(
            session,
            message=EmailMessage(
                idempotency_key=key,
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                kind=EmailKind.reminder.value,
                reminder_step=1,
                to_email="client@example.com",
                subject="Reminder",
                body_text="Please pay",
                backend="sendgrid",
                status=MessageStatus.unknown,
                attempts=1,
                updated_at=handed_over,
            ),
        )
    return message


async def test_a_processed_event_settles_a_timed_out_message_and_the_sweep_leaves_it(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    http: httpx.AsyncClient,
    signer: EventSigner,
    email: EmailActivities,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, _ = sendgrid_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    standin.inject(Fault(delay=2.5))  # SendGrid accepts after the 1 s timeout: the answer is lost
    data = SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.reminder, idempotency_key=f"{invoice.id}:r1")
    sent = await email.send_invoice_email(data)
    assert (await load_message(db, sent.message_id)).status == MessageStatus.unknown
    await _post_event(http, signer, _processed(sent.message_id, "sg-msg-00001", 1))
    settled = await load_message(db, sent.message_id)
    assert (settled.status, settled.provider_message_id) == (MessageStatus.sent, "sg-msg-00001")
    report = await email.resend_unsettled_emails(ResendUnsettledInput(resend_after_seconds=1))
    assert (report.checked, report.resent) == (0, 0)
    assert len(standin.mails) == 1


async def test_a_hand_over_that_never_arrived_is_resent_once_when_later_events_show_none_for_it(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    http: httpx.AsyncClient,
    signer: EventSigner,
    email: EmailActivities,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, _ = sendgrid_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sweep = ResendUnsettledInput(resend_after_seconds=600)
    lost = await _unsettled(db, invoice, handed_over=datetime.now(UTC) - timedelta(minutes=20), key="lost")
    young = await _unsettled(db, invoice, handed_over=datetime.now(UTC) - timedelta(minutes=2), key="young")

    # No SendGrid event has ever arrived: no evidence that one would have, so nothing is re-sent.
    assert (await email.resend_unsettled_emails(sweep)).resent == 0
    assert standin.mails == []

    # An event for another message arrives after both hand-overs: events flow, and none named `lost`.
    await _post_event(http, signer, _processed(999_999, "sg-other", 2))
    report = await email.resend_unsettled_emails(sweep)
    assert (report.checked, report.resent) == (1, 1)
    (mail,) = standin.mails
    assert mail["custom_args"]["billflow_message_id"] == str(lost.id)
    resent = await load_message(db, lost.id)
    assert (resent.status, resent.attempts, resent.provider_message_id) == (MessageStatus.sent, 2, "sg-msg-00001")
    assert (await load_message(db, young.id)).status == MessageStatus.unknown  # within its 10 minutes

    assert (await email.resend_unsettled_emails(sweep)).resent == 0
    assert len(standin.mails) == 1


async def test_a_resend_refused_for_now_stays_unsettled_for_the_next_sweep(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    http: httpx.AsyncClient,
    signer: EventSigner,
    email: EmailActivities,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    standin, _ = sendgrid_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    lost = await _unsettled(db, invoice, handed_over=datetime.now(UTC) - timedelta(minutes=20), key="refused")
    await _post_event(http, signer, _processed(999_998, "sg-other-2", 3))
    standin.inject(Fault(status=429, message="Too many requests"))
    assert (await email.resend_unsettled_emails(ResendUnsettledInput(resend_after_seconds=600))).resent == 0
    refused = await load_message(db, lost.id)
    assert refused.status == MessageStatus.unknown and "Too many requests" in (refused.error or "")
    assert standin.mails == []


async def _unsettled_link(db: Database, client_id: int, *, handed_over: datetime) -> EmailMessage:
    """A portal-link email (no invoice, no attachment) whose hand-over died; its workspace is its client's."""
    async with db.session() as session:
        return await messages_repo.claim_message(
            session,
            message=EmailMessage(
                idempotency_key=f"link-{uuid.uuid4().hex}",
                client_id=client_id,
                kind="portal_link",  # as billflow/services/portal.py writes it
                to_email="client@example.com",
                subject="Your link",
                body_text="https://billflow.test/portal",
                backend="sendgrid",
                status=MessageStatus.unknown,
                attempts=1,
                updated_at=handed_over,
            ),
        )


async def test_a_small_workspaces_message_is_resent_in_the_first_sweep_behind_another_workspaces_backlog(
    db: Database,
    http: httpx.AsyncClient,
    signer: EventSigner,
    email: EmailActivities,
    sendgrid_api: tuple[SendGridStandIn, str],
) -> None:
    """Fair share (issue 13): the sweep's batch takes turns over workspaces, not the oldest hand-overs overall."""
    standin, _ = sendgrid_api
    small = await make_workspace(db)
    assert small.id is not None
    _, big_client = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    _, small_client = await make_invoice(db, workspace_id=small.id)
    assert big_client.id is not None and small_client.id is not None
    old = datetime.now(UTC) - timedelta(hours=1)
    for n in range(5):  # more than the batch of 2, all older than the small workspace's one
        await _unsettled_link(db, big_client.id, handed_over=old - timedelta(minutes=n))
    lone = await _unsettled_link(db, small_client.id, handed_over=old + timedelta(minutes=30))
    await _post_event(http, signer, _processed(999_998, "sg-other", 3))  # events flow, none for these

    report = await email.resend_unsettled_emails(ResendUnsettledInput(resend_after_seconds=600, limit=2))
    assert (report.checked, report.resent) == (2, 2)
    resent = [mail["custom_args"]["billflow_message_id"] for mail in standin.mails]
    assert str(lone.id) in resent
