"""Invoice emails: claimed in the database under their idempotency key, then handed to the provider once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from billflow.config import Settings
from billflow.db import Database
from billflow.email.base import Attachment, DeliveryRejected, DeliveryUnknown, EmailSender, OutgoingEmail
from billflow.email.render import render_email
from billflow.repositories import clients as clients_repo
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import timeline as timeline_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.services.interest import accrued_for_email
from models.email_messages import EmailMessage
from models.enums import EmailKind, InvoiceStatus, MessageStatus
from models.workflow_io import ResendUnsettledInput, ResendUnsettledResult, SendEmailInput, SentEmail

log = logging.getLogger(__name__)

_DELIVERED = {
    MessageStatus.sent,
    MessageStatus.delivered,
    MessageStatus.opened,
    MessageStatus.bounced,
    MessageStatus.dropped,
    MessageStatus.spam,
}


# A message with no issuing workspace (the portal's magic link) goes from the installation's address.
_NO_SENDER: tuple[str | None, str | None, str | None] = (None, None, None)
# Emails that ask the client (or staff) to act on an unpaid invoice: not sent once it is settled.
_CHASERS = {EmailKind.reminder, EmailKind.overdue, EmailKind.escalation}


class EmailActivities:
    def __init__(self, db: Database, sender: EmailSender, settings: Settings) -> None:
        self._db = db
        self._sender = sender
        self._settings = settings

    @activity.defn
    async def send_invoice_email(self, data: SendEmailInput) -> SentEmail:
        """Send at most once: a row that was sent, or whose outcome is unknown, is never handed over again."""
        async with self._db.session() as session:
            message = await messages_repo.get_message(session, idempotency_key=data.idempotency_key)
            if message is None and data.kind in _CHASERS and await self._settled(session, data.invoice_id):
                # Re-checked here, at the last moment: a payment committed a moment ago (its signal to the run
                # still on the way) stops the reminder.
                return SentEmail(message_id=0, provider_message_id=None, already_sent=False, skipped_settled=True)
            if message is None:
                # Claimed in a transaction of its own, so the row is visible (staff resends, the timeline) while
                # the attachments render below; attempts stays 0 until the hand-over is decided.
                message = await messages_repo.claim_message(session, message=await self._render(session, data))
        attachments: list[Attachment] = []
        sender = _NO_SENDER
        if message.status not in _DELIVERED and message.status != MessageStatus.unknown:
            # Rendered (or read back) before the row is locked below: a first render takes a while, and the
            # lock is held only for the decision and the hand-over stamp. The sender identity is read here too:
            # nothing that can fail may come between the stamp and the hand-over, or a database outage there
            # leaves a message stamped as handed over that never was (chaos database-restart, 2026-12-02).
            async with self._db.session() as session:
                attachments = await self._attachments(
                    session, data.invoice_id, kind=data.kind.value, credit_note_id=data.credit_note_id
                )
                sender = await workspaces_repo.sender_of_invoice(session, invoice_id=data.invoice_id)
        async with self._db.session() as session:
            message = await messages_repo.get_message(session, idempotency_key=data.idempotency_key, for_update=True)
            assert message is not None
            if message.status in _DELIVERED or message.status == MessageStatus.unknown:
                assert message.id is not None
                return SentEmail(
                    message_id=message.id, provider_message_id=message.provider_message_id, already_sent=True
                )
            if message.status == MessageStatus.claimed and message.attempts > 0 and not self._sender.repeat_is_harmless:
                # An earlier attempt handed the message over and ended (worker killed) before recording the
                # answer: it may have gone out, so it is marked unknown and not handed over again here; the
                # unsettled-email sweep re-sends it only once the provider's events show it never arrived.
                message.status = MessageStatus.unknown
                message.error = "an earlier attempt ended before the provider's answer was recorded"
                session.add(message)
                assert message.id is not None
                return SentEmail(message_id=message.id, provider_message_id=None, already_sent=False)
            # The row's updated_at, stamped now, is the hand-over instant the unsettled-email sweep compares with
            # the provider's events: the attachments are ready, so nothing comes between it and the hand-over.
            message.status = MessageStatus.claimed  # a failed attempt's row is handed over again
            message.attempts += 1
            message.updated_at = datetime.now(UTC)
            session.add(message)
        assert message.id is not None
        return await self._hand_over(message, data.invoice_id, attachments, sender)

    @staticmethod
    async def _settled(session: AsyncSession, invoice_id: int) -> bool:
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
        return invoice is not None and (InvoiceStatus(invoice.status).is_final or invoice.balance_minor <= 0)

    async def send_rendered(self, message: EmailMessage) -> SentEmail:
        """Send a message rendered outside an invoice (the portal's magic link) through the same send-once path:
        claimed under its idempotency key, handed over once."""
        async with self._db.session() as session:
            claimed = await messages_repo.claim_message(session, message=message)
            assert claimed.id is not None
            if claimed.status in _DELIVERED or claimed.status == MessageStatus.unknown:
                return SentEmail(
                    message_id=claimed.id, provider_message_id=claimed.provider_message_id, already_sent=True
                )
            claimed.status = MessageStatus.claimed
            claimed.attempts += 1
            session.add(claimed)
        return await self._hand_over(claimed, None, [], _NO_SENDER)

    @activity.defn
    async def resend_unsettled_emails(self, data: ResendUnsettledInput) -> ResendUnsettledResult:
        """Settle emails whose hand-over ended without an answer (worker killed, timeout), using the provider's
        own evidence: SendGrid posts a `processed` event for every message it accepts, which moves the message
        to `sent` (billflow.services.email_events). So a message still unsettled `resend_after` seconds after its
        hand-over, while events for later hand-overs did arrive, never reached SendGrid: it is handed over again
        (claimed first, so a crash here leaves it unsettled for the next sweep, never sent twice by it)."""
        checked = resent = 0
        now = datetime.now(UTC)
        async with self._db.session() as session:
            newest_event = await inbox_repo.latest_received_at(session, source=self._sender.name)
        if newest_event is None:
            return ResendUnsettledResult(checked=0, resent=0)  # no evidence that events flow at all
        before = min(now - timedelta(seconds=data.resend_after_seconds), newest_event)
        async with self._db.session() as session:  # the batch, in turns over workspaces (fair share)
            batch = await messages_repo.unsettled_in_turns(
                session, backend=self._sender.name, handed_over_before=before, limit=data.limit
            )
        for message_id in batch:
            async with self._db.session() as session:
                message = await messages_repo.lock_unsettled(
                    session, message_id=message_id, backend=self._sender.name, handed_over_before=before
                )
                if message is None:
                    continue  # settled since, or a concurrent sweep has it
                checked += 1
                # Rendered before updated_at is stamped (the hand-over instant the next sweep compares with).
                attachments = (
                    await self._attachments(
                        session, message.invoice_id, kind=message.kind, credit_note_id=message.credit_note_id
                    )
                    if message.invoice_id
                    else []
                )
                sender = (
                    await workspaces_repo.sender_of_invoice(session, invoice_id=message.invoice_id)
                    if message.invoice_id
                    else _NO_SENDER
                )
                message.status = MessageStatus.claimed
                message.attempts += 1
                message.error = "re-sent: the provider never confirmed an earlier hand-over"
                message.updated_at = datetime.now(UTC)
                session.add(message)
                if message.client_id is not None:
                    await timeline_repo.add_event(
                        session,
                        client_id=message.client_id,
                        invoice_id=message.invoice_id,
                        kind="email.resent",
                        message=f"{message.kind} email to {message.to_email} re-sent: SendGrid never confirmed "
                        "an earlier hand-over",
                        data={"message_id": message.id, "attempt": message.attempts},
                        key=f"email:{message.id}:resent:{message.attempts}",
                    )
            if activity.in_activity():
                activity.heartbeat(checked)
            log.warning("email %s (%s): no provider event after hand-over, re-sending", message.id, message.kind)
            try:
                await self._hand_over(message, message.invoice_id, attachments, sender)
                resent += 1
            except ApplicationError as err:
                log.warning("email %s: re-send refused: %s", message.id, err)
                if not err.non_retryable:  # 429/5xx: not sent; left unsettled, so a later sweep tries again
                    assert message.id is not None
                    await self._finish(message.id, MessageStatus.unknown, error=f"re-send refused for now: {err}")
        return ResendUnsettledResult(checked=checked, resent=resent)

    async def _hand_over(
        self,
        message: EmailMessage,
        invoice_id: int | None,
        attachments: list[Attachment],
        sender: tuple[str | None, str | None, str | None],
    ) -> SentEmail:
        """Give the claimed message to the provider and record its answer. `sender` is the issuing workspace's
        (name, email, reply-to), read before the hand-over was stamped; the installation's address where unset."""
        assert message.id is not None
        from_name, from_email, reply_to = sender
        outgoing = OutgoingEmail(
            idempotency_key=message.idempotency_key,
            to_email=message.to_email,
            from_email=from_email or self._settings.from_email,
            from_name=from_name,
            reply_to=reply_to,
            subject=message.subject,
            text=message.body_text,
            html=message.body_html,
            categories=["billflow", message.kind],
            custom_args={
                "billflow_message_id": str(message.id),
                "billflow_invoice_id": str(invoice_id or ""),
                "billflow_kind": message.kind,
            },
            attachments=attachments,
        )
        try:
            provider_id = await self._sender.send(outgoing)
        except DeliveryUnknown as err:
            await self._finish(message.id, MessageStatus.unknown, error=str(err))
            return SentEmail(message_id=message.id, provider_message_id=None, already_sent=False)
        except DeliveryRejected as err:
            await self._finish(message.id, MessageStatus.failed, error=str(err))
            raise ApplicationError(str(err), type="EmailRejected", non_retryable=err.permanent) from err
        await self._finish(message.id, MessageStatus.sent, provider_message_id=provider_id)
        return SentEmail(message_id=message.id, provider_message_id=provider_id, already_sent=False)

    async def _finish(
        self,
        message_id: int,
        status: MessageStatus,
        *,
        provider_message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        async with self._db.session() as session:
            message = await messages_repo.get_message(session, message_id=message_id, for_update=True)
            assert message is not None
            message.status = status
            message.error = error
            message.updated_at = datetime.now(UTC)
            if provider_message_id is not None:
                message.provider_message_id = provider_message_id
                message.sent_at = message.updated_at
            session.add(message)

    async def _attachments(  # type: ignore[no-untyped-def]
        self, session, invoice_id: int, *, kind: str, credit_note_id: int | None
    ) -> list[Attachment]:
        """A credit note's email carries the credit note (also when the sweep re-sends it: the row keeps its id);
        every other email the invoice's files."""
        if credit_note_id is not None:
            note = await credit_notes_repo.get_credit_note(session, credit_note_id=credit_note_id)
            if note is not None:
                from billflow.services.document_files import number_pdf

                pdf = await number_pdf(session, number=note.number, settings=self._settings)
                return [Attachment(filename=pdf.filename, content_type=pdf.content_type, content=pdf.content)]
        return await self._invoice_files(session, invoice_id, kind=kind)

    async def _invoice_files(self, session, invoice_id: int, *, kind: str) -> list[Attachment]:  # type: ignore[no-untyped-def]
        """The invoice's PDF (Factur-X) and, on the issue email, the e-invoice file of the client's format;
        each rendered once per document version and then read back (billflow.services.document_files)."""
        from billflow.services.document_files import attachments_for

        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
        if invoice is None:
            return []
        files = await attachments_for(
            session, invoice=invoice, settings=self._settings, with_einvoice=kind == EmailKind.invoice_issued
        )
        return [Attachment(filename=f.filename, content_type=f.content_type, content=f.content) for f in files]

    async def _render(self, session, data: SendEmailInput) -> EmailMessage:  # type: ignore[no-untyped-def]
        invoice = await invoices_repo.get_invoice(session, invoice_id=data.invoice_id)
        if invoice is None:
            raise ApplicationError(
                f"invoice {data.invoice_id} does not exist", type="InvoiceNotFound", non_retryable=True
            )
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
        assert client is not None
        lines = await invoices_repo.get_lines(session, invoice_id=data.invoice_id)
        base = self._settings.public_base_url.rstrip("/")
        today = datetime.now(UTC).astimezone(ZoneInfo(invoice.timezone)).date()
        credit_note = None
        if data.credit_note_id is not None:
            credit_note = await credit_notes_repo.get_credit_note(session, credit_note_id=data.credit_note_id)
        context = {
            "credit_note": credit_note,
            "invoice": invoice,
            "client": client,
            "lines": lines,
            # The issuing workspace as its invoice names it (the seller frozen at issue), in its locale.
            "business_name": invoice.seller.get("name") or self._settings.business_name,
            "locale": await workspaces_repo.locale_of(session, workspace_id=invoice.workspace_id),
            "pay_url": invoice.payment_url or f"{base}/pay/{invoice.public_token}",
            "invoice_url": f"{base}/i/{invoice.public_token}",
            "balance_minor": invoice.balance_minor,
            "days_to_due": (invoice.due_date - today).days,
            "details": data.details,
            # Collections: interest accrued so far under the invoice's late-payment terms (reminders only).
            "interest": await accrued_for_email(session, invoice)
            if data.kind in (EmailKind.reminder, EmailKind.overdue, EmailKind.promise_broken)
            else None,
        }
        rendered = render_email(data.template or data.kind.value, context)
        return EmailMessage(
            idempotency_key=data.idempotency_key,
            invoice_id=invoice.id,
            client_id=client.id,
            kind=data.kind.value,
            reminder_step=data.reminder_step,
            to_email=self._settings.staff_email if data.to_staff else client.email,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            backend=self._sender.name,
            credit_note_id=data.credit_note_id,
        )


__all__ = ["EmailActivities", "EmailKind"]
