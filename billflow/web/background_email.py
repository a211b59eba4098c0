"""Emails the web process sends itself, after its response (a refund receipt, a bounce notice, a staff resend):
through the same claim-before-send path as the workflow's activity, so a repeat is a no-op."""

from __future__ import annotations

import logging

from fastapi import Request

from billflow.config import Settings
from billflow.db import Database
from models.enums import EmailKind
from models.workflow_io import SendEmailInput

log = logging.getLogger(__name__)


async def send_email_now(request: Request, data: SendEmailInput) -> None:
    """Send one invoice email from the web process (after the response), through the same claim-before-send
    path as the workflow's activity: its idempotency key makes a repeat a no-op."""
    from activities.email import EmailActivities
    from billflow.email import build_email_sender

    state = request.app.state
    settings: Settings = state.settings
    db: Database = state.db
    if getattr(state, "email_sender", None) is None:
        state.email_sender = build_email_sender(settings)
    try:
        await EmailActivities(db, state.email_sender, settings).send_invoice_email(data)
    except Exception:  # what happened is on the timeline either way; the email must not fail the webhook
        log.exception("could not send %s email for invoice %s", data.template or data.kind, data.invoice_id)


def bounce_notice(invoice_id: int) -> SendEmailInput:
    """One staff email per bounced invoice."""
    return SendEmailInput(
        invoice_id=invoice_id,
        kind=EmailKind.escalation,  # a staff notice; the template says what happened
        template="bounce_notice",
        to_staff=True,
        idempotency_key=f"bounce-notice:{invoice_id}",
    )
