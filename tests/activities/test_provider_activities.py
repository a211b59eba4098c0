"""Payment-link and email activities: stable idempotency keys, one email row and one provider send per key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlmodel import col, select
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from activities.invoices import InvoiceActivities
from activities.payments import PaymentActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email.base import DeliveryRejected, DeliveryUnknown, OutgoingEmail
from models.email_messages import EmailMessage
from models.enums import EmailKind, MessageStatus
from models.invoices import Invoice
from models.workflow_io import IssuedInvoice, PaymentLinkInput, RecordInvoiceInput, SendEmailInput
from tests.factories import make_booking


class CountingSender:
    """An EmailSender that records what it was handed; optionally fails the first calls."""

    name = "counting"
    repeat_is_harmless = False  # stands for a real provider: what it was handed counts

    def __init__(self, *failures: Exception) -> None:
        self.sent: list[OutgoingEmail] = []
        self._failures = list(failures)

    async def send(self, email: OutgoingEmail) -> str:
        self.sent.append(email)
        if self._failures:
            raise self._failures.pop(0)
        return f"msg-{len(self.sent)}"


class CountingProvider:
    name = "counting"

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def create_payment_link(self, *, invoice_id: int, public_token: str, idempotency_key: str) -> str:
        self.keys.append(idempotency_key)
        return f"https://pay.example/{public_token}"


@pytest.fixture
async def invoice(db: Database) -> IssuedInvoice:
    booking = make_booking(issued_at=datetime.now(UTC))
    return await InvoiceActivities(db).record_invoice(
        RecordInvoiceInput(booking=booking, workflow_id=booking.workflow_id)
    )


def email_input(invoice: IssuedInvoice, kind: EmailKind = EmailKind.invoice_issued, **extra: object) -> SendEmailInput:
    return SendEmailInput(
        invoice_id=invoice.invoice_id, kind=kind, idempotency_key=f"test-{uuid.uuid4().hex}:{kind}", **extra
    )


async def messages_with_key(db: Database, key: str) -> list[EmailMessage]:
    async with db.session() as session:
        return list((await session.exec(select(EmailMessage).where(EmailMessage.idempotency_key == key))).all())


async def test_create_payment_link_twice_uses_one_key_and_stores_the_url(db: Database, invoice: IssuedInvoice) -> None:
    provider = CountingProvider()
    activities = PaymentActivities(db, provider)
    data = PaymentLinkInput(invoice_id=invoice.invoice_id, public_token=invoice.public_token, workflow_id="wf-1")
    first = await activities.create_payment_link(data)
    second = await activities.create_payment_link(data)

    assert first == second
    assert provider.keys == ["wf-1:payment-link"] * 2  # the provider dedupes on a stable key
    async with db.session() as session:
        stored = await session.get(Invoice, invoice.invoice_id)
    assert stored is not None and stored.payment_url == first.url


async def test_send_invoice_email_twice_sends_once(db: Database, settings: Settings, invoice: IssuedInvoice) -> None:
    sender = CountingSender()
    activities = EmailActivities(db, sender, settings)
    data = email_input(invoice)
    first = await activities.send_invoice_email(data)
    second = await activities.send_invoice_email(data)

    assert len(sender.sent) == 1
    assert (first.already_sent, second.already_sent) == (False, True)
    assert first.message_id == second.message_id and second.provider_message_id == "msg-1"
    [row] = await messages_with_key(db, data.idempotency_key)
    assert (row.status, row.kind, row.attempts) == (MessageStatus.sent, EmailKind.invoice_issued, 1)
    assert invoice.number in row.subject
    assert sender.sent[0].idempotency_key == data.idempotency_key


async def test_reminder_email_records_its_step_and_escalation_goes_to_staff(
    db: Database, settings: Settings, invoice: IssuedInvoice
) -> None:
    activities = EmailActivities(db, CountingSender(), settings)
    reminder = email_input(invoice, EmailKind.reminder, reminder_step=2, template="reminder")
    escalation = email_input(invoice, EmailKind.escalation, to_staff=True)
    await activities.send_invoice_email(reminder)
    await activities.send_invoice_email(escalation)

    [reminder_row] = await messages_with_key(db, reminder.idempotency_key)
    [escalation_row] = await messages_with_key(db, escalation.idempotency_key)
    assert (reminder_row.kind, reminder_row.reminder_step) == (EmailKind.reminder, 2)
    assert escalation_row.to_email == settings.staff_email


async def test_email_with_unknown_outcome_is_never_handed_over_again(
    db: Database, settings: Settings, invoice: IssuedInvoice
) -> None:
    sender = CountingSender(DeliveryUnknown("timed out"))
    activities = EmailActivities(db, sender, settings)
    data = email_input(invoice)
    await activities.send_invoice_email(data)
    retried = await activities.send_invoice_email(data)

    assert len(sender.sent) == 1 and retried.already_sent
    [row] = await messages_with_key(db, data.idempotency_key)
    assert row.status == MessageStatus.unknown


async def test_email_rejected_transiently_is_sent_on_retry_into_the_same_row(
    db: Database, settings: Settings, invoice: IssuedInvoice
) -> None:
    sender = CountingSender(DeliveryRejected("429", permanent=False))
    activities = EmailActivities(db, sender, settings)
    data = email_input(invoice)
    with pytest.raises(ApplicationError) as raised:
        await activities.send_invoice_email(data)
    assert not raised.value.non_retryable
    await activities.send_invoice_email(data)

    assert len(sender.sent) == 2
    [row] = await messages_with_key(db, data.idempotency_key)
    assert (row.status, row.attempts, row.provider_message_id) == (MessageStatus.sent, 2, "msg-2")


async def test_email_for_a_missing_invoice_is_a_non_retryable_error(db: Database, settings: Settings) -> None:
    sender = CountingSender()
    activities = EmailActivities(db, sender, settings)
    data = SendEmailInput(invoice_id=987_654_321, kind=EmailKind.reminder, idempotency_key=f"k-{uuid.uuid4().hex}")
    with pytest.raises(ApplicationError) as raised:
        await activities.send_invoice_email(data)
    assert raised.value.non_retryable and sender.sent == []
    async with db.session() as session:
        stored = (
            select(func.count())
            .select_from(EmailMessage)
            .where(col(EmailMessage.idempotency_key) == data.idempotency_key)
        )
        assert (await session.exec(stored)).one() == 0


class CrashingOutbox(CountingSender):
    """Like the outbox backend (a repeat delivers nothing twice); its first call dies like a killed worker."""

    repeat_is_harmless = True


@pytest.mark.parametrize("sender_type", [CountingSender, CrashingOutbox])
async def test_attempt_that_died_before_its_answer_is_repeated_only_where_repeats_are_harmless(
    db: Database, settings: Settings, invoice: IssuedInvoice, sender_type: type[CountingSender]
) -> None:
    sender = sender_type(RuntimeError("worker killed mid-send"))
    activities = EmailActivities(db, sender, settings)
    data = email_input(invoice)
    with pytest.raises(RuntimeError):
        await activities.send_invoice_email(data)
    await activities.send_invoice_email(data)

    [row] = await messages_with_key(db, data.idempotency_key)
    if sender.repeat_is_harmless:
        assert (len(sender.sent), row.status) == (2, MessageStatus.sent)  # not lost
    else:
        assert (len(sender.sent), row.status) == (1, MessageStatus.unknown)  # never handed over twice


async def test_a_database_outage_before_the_hand_over_leaves_the_email_to_send_on_retry(
    db: Database, settings: Settings, invoice: IssuedInvoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the activity reads for the hand-over (the sender identity) is read before the hand-over is stamped:
    an outage there fails the attempt before anything is stamped, so the retry sends it, rather than finding a
    stamped attempt that may have gone out and marking it unknown (chaos database-restart, 2026-12-02)."""
    from billflow.repositories import workspaces as workspaces_repo

    real = workspaces_repo.sender_of_invoice
    calls = 0

    async def down_once(session, *, invoice_id):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database went away")
        return await real(session, invoice_id=invoice_id)

    monkeypatch.setattr(workspaces_repo, "sender_of_invoice", down_once)
    sender = CountingSender()
    activities = EmailActivities(db, sender, settings)
    data = email_input(invoice)
    with pytest.raises(ConnectionError):
        await activities.send_invoice_email(data)
    await activities.send_invoice_email(data)

    [row] = await messages_with_key(db, data.idempotency_key)
    assert (len(sender.sent), row.status, row.attempts) == (1, MessageStatus.sent, 1)
