"""Credit notes: their own gap-free series, never more than the invoice, spread over its VAT groups, referenced
by number and date, on the timeline, in the reports (net), and emailed with their PDF."""

from __future__ import annotations

import re

import pytest

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email.base import OutgoingEmail
from billflow.repositories import messages as messages_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import credit_notes, documents, reports
from billflow.services.credit_notes import CreditNoteRefused
from models.enums import CreditNoteKind, EmailKind, InvoiceStatus, TaxCategory
from models.invoices import Invoice
from models.workflow_io import SendEmailInput
from tests.documents.conftest import business_booking, issue_directly


async def _credit(
    db: Database, invoice: Invoice, amount: int | None, key: str, kind: CreditNoteKind = CreditNoteKind.partial
):  # type: ignore[no-untyped-def]
    assert invoice.id is not None
    async with db.session() as session:
        return await credit_notes.issue_credit_note(
            session, invoice_id=invoice.id, kind=kind, reason="agreed discount", key=key, amount_minor=amount
        )


async def _reload(db: Database, invoice: Invoice) -> Invoice:
    from tests.standins.fixtures import load_invoice

    return await load_invoice(db, invoice.id)


async def test_partial_credit_notes_have_their_own_consecutive_numbers(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    first = await _credit(db, invoice, 1_000, f"a:{invoice.id}")
    second = await _credit(db, invoice, 2_000, f"b:{invoice.id}")
    assert first is not None and second is not None
    assert re.fullmatch(r"CN-\d{4}-\d{6}", first.number)
    year, n = first.number.rsplit("-", 1)
    assert second.number == f"{year}-{int(n) + 1:06d}"
    refreshed = await _reload(db, invoice)
    assert refreshed.credited_minor == 3_000
    assert refreshed.balance_minor == invoice.total_minor - 3_000


async def test_the_same_key_issues_one_credit_note(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    first = await _credit(db, invoice, 1_000, f"same:{invoice.id}")
    again = await _credit(db, invoice, 1_000, f"same:{invoice.id}")
    assert first is not None and again is not None and again.number == first.number
    assert (await _reload(db, invoice)).credited_minor == 1_000


async def test_more_than_the_invoice_cannot_be_credited(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    await _credit(db, invoice, invoice.total_minor - 100, f"most:{invoice.id}")
    with pytest.raises(CreditNoteRefused, match="amount_minor: at most 100"):
        await _credit(db, invoice, 101, f"over:{invoice.id}")


async def test_a_partial_credit_note_corrects_each_vat_group_in_proportion(
    db: Database, doc_settings: Settings
) -> None:
    invoice = await issue_directly(db, doc_settings)  # 300.00 + 20 % and 25.00 zero-rated: 385.00
    note = await _credit(db, invoice, 11_550, f"split:{invoice.id}")  # 30 %
    assert note is not None
    async with db.session() as session:
        doc = await documents.load_document(session, number=note.number, settings=doc_settings)
    assert doc.document_type == "credit_note" and doc.credit_note_kind is CreditNoteKind.partial
    assert doc.type_code == "381"
    assert [(r.category, r.rate_bp, r.taxable_minor, r.tax_minor) for r in doc.tax_breakdown] == [
        (TaxCategory.standard, 2000, 9_000, 1_800),
        (TaxCategory.zero, 0, 750, 0),
    ]
    assert doc.total_minor == 11_550
    assert [(r.kind, r.number, r.issue_date) for r in doc.references] == [
        ("invoice", invoice.number, invoice.issue_date)
    ]
    assert doc.seller.vat_id == "DE136695976" and doc.buyer.vat_id == "FR40303265045"


async def test_cancellation_credits_everything_left_with_the_invoices_own_breakdown(
    db: Database, doc_settings: Settings
) -> None:
    invoice = await issue_directly(db, doc_settings)
    note = await _credit(db, invoice, None, f"cancel:{invoice.id}", kind=CreditNoteKind.cancellation)
    assert note is not None and note.total_minor == invoice.total_minor
    assert note.tax_breakdown == invoice.tax_breakdown
    assert await _credit(db, invoice, None, f"cancel-again:{invoice.id}", kind=CreditNoteKind.cancellation) is None


async def test_a_credit_note_appears_on_the_timeline(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    note = await _credit(db, invoice, 500, f"tl:{invoice.id}")
    assert note is not None
    async with db.session() as session:
        events = await timeline_repo.list_events(session, client_id=invoice.client_id)
    issued = [e for e in events if e.kind == "credit_note.issued"]
    assert len(issued) == 1 and note.number in issued[0].message and invoice.number in issued[0].message


async def test_crediting_the_rest_of_a_partly_paid_invoice_settles_it(db: Database, doc_settings: Settings) -> None:
    from datetime import UTC, datetime

    from billflow.services import invoicing
    from models.workflow_io import PaymentReceived

    invoice = await issue_directly(db, doc_settings)
    assert invoice.id is not None
    async with db.session() as session:
        await invoicing.record_payment(
            session,
            invoice_id=invoice.id,
            payment=PaymentReceived(
                provider="manual", provider_reference=f"p-{invoice.id}", amount_minor=30_000, currency="EUR",
                received_at=datetime.now(UTC),
            ),
        )  # fmt: skip
    await _credit(db, invoice, invoice.total_minor - 30_000, f"rest:{invoice.id}")
    refreshed = await _reload(db, invoice)
    assert refreshed.balance_minor == 0 and refreshed.status == InvoiceStatus.paid


async def test_reports_are_net_of_credit_notes(db: Database, doc_settings: Settings) -> None:
    booking = business_booking(currency="NOK")
    async with db.session() as session:
        aging_before = {r.currency: r.total_minor for r in (await reports.aging(session)).rows}
        dso_before = {r.currency: r.sales_minor for r in (await reports.days_sales_outstanding(session)).rows}
    invoice = await issue_directly(db, doc_settings, booking)
    await _credit(db, invoice, 5_000, f"rep:{invoice.id}")
    async with db.session() as session:
        aging_after = {r.currency: r.total_minor for r in (await reports.aging(session)).rows}
        dso_after = {r.currency: r.sales_minor for r in (await reports.days_sales_outstanding(session)).rows}
    assert aging_after["NOK"] - aging_before.get("NOK", 0) == invoice.total_minor - 5_000
    assert dso_after["NOK"] - dso_before.get("NOK", 0) == invoice.total_minor - 5_000


class _Recorder:
    name = "outbox"
    repeat_is_harmless = True

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []

    async def send(self, email: OutgoingEmail) -> str:
        self.sent.append(email)
        return f"rec-{len(self.sent)}"


async def test_a_credit_note_is_emailed_with_its_pdf(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    note = await _credit(db, invoice, 2_000, f"mail:{invoice.id}")
    assert note is not None and invoice.id is not None
    recorder = _Recorder()
    data = SendEmailInput(
        invoice_id=invoice.id, kind=EmailKind.credit_note, idempotency_key=f"cn-mail:{note.number}",
        credit_note_id=note.id,
    )  # fmt: skip
    activities = EmailActivities(db, recorder, doc_settings)
    await activities.send_invoice_email(data)
    await activities.send_invoice_email(data)  # a retry sends nothing more
    assert len(recorder.sent) == 1
    email = recorder.sent[0]
    assert email.subject.startswith(f"Credit note {note.number} for invoice {invoice.number}")
    assert [a.filename for a in email.attachments] == [f"{note.number}.pdf"]
    assert email.attachments[0].content.startswith(b"%PDF-")
    async with db.session() as session:  # the row remembers it, so the unsettled-email sweep re-attaches it
        row = await messages_repo.get_message(session, idempotency_key=f"cn-mail:{note.number}")
    assert row is not None and row.credit_note_id == note.id


def test_a_refund_of_an_overpayment_needs_no_credit_note() -> None:
    invoice = Invoice(total_minor=10_000, amount_paid_minor=12_000, credited_minor=0)  # paid 20.00 twice over
    assert credit_notes.refund_credit_minor(invoice, 2_000) == 0
    assert credit_notes.refund_credit_minor(invoice, 5_000) == 3_000  # beyond the overpayment the price goes down


async def test_void_after_a_partial_credit_cancels_only_the_rest(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    await _credit(db, invoice, 5_000, f"first:{invoice.id}")
    cancel = await _credit(db, invoice, None, f"void:{invoice.id}", kind=CreditNoteKind.cancellation)
    assert cancel is not None and cancel.total_minor == invoice.total_minor - 5_000
    assert (await _reload(db, invoice)).credited_minor == invoice.total_minor


async def test_an_issued_document_keeps_the_seller_it_was_issued_with(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    renamed = doc_settings.model_copy(update={"business_legal_name": "Someone Else Ltd", "business_vat_id": None})
    async with db.session() as session:
        doc = await documents.load_document(session, number=invoice.number, settings=renamed)
    assert doc.seller.legal_name == "Atelier Nord GmbH" and doc.seller.vat_id == "DE136695976"
    assert doc.payment.iban == "DE89370400440532013000"
