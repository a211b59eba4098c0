"""Interest on stored invoices: reference rates in the database, a quote from the invoice's own payments, the
separate interest invoice (once), and never while disputed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.domain.interest import InterestExcluded, Preset, ReferenceRateName
from billflow.repositories import invoices as invoices_repo
from billflow.services import interest, invoicing
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import LineIn, PaymentReceived
from starter.cli import app as cli
from tests.factories import make_booking, make_client
from tests.workflows.support import rows, until
from worker import build_worker
from workflows.invoice import InvoiceWorkflow

ECB_2024 = [(date(2024, 1, 1), 450), (date(2024, 7, 1), 425)]


@pytest.fixture
async def ecb_rates(db: Database) -> None:
    for start, bp in ECB_2024:
        await interest.set_rate(db, rate=ReferenceRateName.ecb_mro, valid_from=start, rate_bp=bp, source="ECB")


async def _late_invoice(db: Database) -> Invoice:
    """EUR 10,000.00 issued 17 Mar 2024 in UTC, due 31 Mar 2024."""
    booking = make_booking(
        client=make_client(timezone="UTC"),
        lines=[LineIn(description="Consulting", unit_price_minor=1_000_000)],
        currency="EUR",
        issued_at=datetime(2024, 3, 17, 12, tzinfo=UTC),
        payment_terms=timedelta(days=14),
    )
    async with db.session() as session:
        invoice = await invoicing.issue_invoice(session, booking=booking, workflow_id=f"test-{uuid.uuid4().hex}")
    assert invoice.due_date == date(2024, 3, 31)
    return invoice


async def _pay(db: Database, invoice: Invoice, amount: int, on: datetime) -> None:
    payment = PaymentReceived(
        provider="local", provider_reference=uuid.uuid4().hex, amount_minor=amount, currency="EUR", received_at=on
    )
    async with db.session() as session:
        await invoicing.record_payment(session, invoice_id=invoice.id or 0, payment=payment)


async def test_rates_default_to_six_months_and_refuse_overlaps_and_typos(db: Database) -> None:
    rate = await interest.set_rate(
        db, rate=ReferenceRateName.boe_base, valid_from=date(2031, 1, 1), rate_bp=425, source="BoE"
    )
    assert rate.valid_to == date(2031, 6, 30)
    with pytest.raises(interest.RateInvalid, match="valid_from"):
        await interest.set_rate(
            db, rate=ReferenceRateName.boe_base, valid_from=date(2031, 3, 1), rate_bp=400, source="BoE"
        )
    with pytest.raises(interest.RateInvalid, match="rate_bp"):
        await interest.set_rate(
            db, rate=ReferenceRateName.boe_base, valid_from=date(2031, 7, 1), rate_bp=42_500, source="BoE"
        )
    corrected = await interest.set_rate(
        db, rate=ReferenceRateName.boe_base, valid_from=date(2031, 1, 1), rate_bp=450, source="BoE, corrected"
    )
    assert (corrected.id, corrected.rate_bp) == (rate.id, 450)


async def test_quote_uses_the_invoices_part_payment_and_period_rates(db: Database, ecb_rates: None) -> None:
    invoice = await _late_invoice(db)
    await _pay(db, invoice, 400_000, datetime(2024, 6, 30, 15, tzinfo=UTC))
    await _pay(db, invoice, 600_000, datetime(2024, 7, 30, 9, tzinfo=UTC))
    found = await interest.quote_for_invoice(db, number=invoice.number, preset=Preset.eu_b2b)
    # 1 Apr - 30 Jun: 91 days x 10,000 at 12.50 %; 1-30 Jul: 30 days x 6,000 at 12.25 %.
    # (1,000,000 x 1250 x 91 + 600,000 x 1225 x 30) / 3,650,000 = 135,800,000,000 / 3,650,000 = 37,205.47...
    # minor units -> 372.05 EUR
    assert [(s.days, s.principal_minor, s.rate_bp) for s in found.quote.segments] == [
        (91, 1_000_000, 1250),
        (30, 600_000, 1225),
    ]
    assert (found.quote.until, found.quote.interest_minor, found.quote.compensation_minor) == (
        date(2024, 7, 30),
        37_205,
        4_000,
    )


async def test_no_interest_while_disputed(db: Database, ecb_rates: None) -> None:
    invoice = await _late_invoice(db)
    async with db.session() as session:
        row = await invoices_repo.get_invoice(session, invoice_id=invoice.id, for_update=True)
        assert row is not None
        row.status = InvoiceStatus.disputed
        session.add(row)
    with pytest.raises(InterestExcluded, match="disputed"):
        await interest.quote_for_invoice(db, number=invoice.number, preset=Preset.eu_b2b, until=date(2024, 5, 1))


async def test_interest_invoice_is_separate_references_the_original_and_is_issued_once(
    db: Database, ecb_rates: None, time_env: WorkflowEnvironment, settings: Settings, task_queue: str
) -> None:
    invoice = await _late_invoice(db)
    await _pay(db, invoice, 1_000_000, datetime(2024, 4, 30, 10, tzinfo=UTC))
    found = await interest.quote_for_invoice(db, number=invoice.number, preset=Preset.eu_b2b)
    worker: Worker
    async with build_worker(time_env.client, db, settings, task_queue=task_queue) as worker:
        assert worker is not None
        first = await interest.issue_interest_invoice(
            db, time_env.client, number=invoice.number, task_queue=task_queue, quote=found.quote
        )
        second = await interest.issue_interest_invoice(
            db, time_env.client, number=invoice.number, task_queue=task_queue, quote=found.quote
        )
        assert first == second
        handle = time_env.client.get_workflow_handle(first)
        state = await until(handle, lambda s: s.issued_email_sent)
        assert (state.total_minor, state.currency) == (10_274 + 4_000, "EUR")
        assert (await handle.query(InvoiceWorkflow.status)) is not None
    issued = await rows(db, first)
    assert issued.invoice.number != invoice.number and invoice.number in (issued.invoice.memo or "")
    async with db.session() as session:
        lines = await invoices_repo.get_lines(session, invoice_id=issued.invoice.id or 0)
        original = await invoices_repo.get_invoice(session, invoice_id=invoice.id)
    assert [line.total_minor for line in lines] == [10_274, 4_000]
    assert all(invoice.number in line.description for line in lines)
    assert original is not None and original.total_minor == 1_000_000  # the original is never edited


async def test_cli_sets_lists_rates_and_quotes(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, ecb_rates: None
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    monkeypatch.setattr("starter.interest.get_settings", lambda: settings)

    async def invoke(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env={"COLUMNS": "200"})
        return result.exit_code, result.output

    rate = ["interest", "rates", "set", "de_basiszins", "--from", "2032-01-01", "--percent", "-0.88", "--source", "BBk"]
    code, out = await invoke(*rate, "--json")
    assert code == 0, out
    assert (json.loads(out)["rate_bp"], json.loads(out)["valid_to"]) == (-88, "2032-06-30")
    code, out = await invoke("interest", "rates", "list", "--rate", "de_basiszins")
    assert code == 0 and "-0.88" in out
    code, out = await invoke(
        "interest", "rates", "set", "ecb_mro", "--from", "2024-03-01", "--percent", "4", "--source", "x"
    )
    assert code == 2 and "overlaps" in out

    invoice = await _late_invoice(db)
    code, out = await invoke(
        "interest", "quote", invoice.number, "--preset", "eu_b2b", "--until", "2024-04-30", "--json"
    )
    assert code == 0, out
    assert (json.loads(out)["interest_minor"], json.loads(out)["compensation_minor"]) == (10_274, 4_000)
    code, out = await invoke("interest", "quote", invoice.number, "--preset", "fr_b2b", "--consumer")
    assert code == 1 and "consumers" in out


async def test_overdue_email_shows_the_interest_accrued_under_the_invoices_terms(
    db: Database, settings: Settings, ecb_rates: None
) -> None:
    from activities.email import EmailActivities
    from billflow.email.outbox import OutboxSender
    from billflow.repositories import messages as messages_repo
    from models.enums import EmailKind, InterestPreset
    from models.workflow_io import LateInterestTerms, SendEmailInput

    booking = make_booking(
        client=make_client(timezone="UTC"),
        lines=[LineIn(description="Consulting", unit_price_minor=1_000_000)],
        currency="EUR",
        issued_at=datetime(2024, 3, 17, 12, tzinfo=UTC),
        late_interest=LateInterestTerms(preset=InterestPreset.eu_b2b),
    )
    async with db.session() as session:
        invoice = await invoicing.issue_invoice(session, booking=booking, workflow_id=f"test-{uuid.uuid4().hex}")
    # A 0.01 part payment on 30 Apr 2024, and accrual counted up to that day (paid_at): 30 days on 10,000.00 at
    # 12.50 % = 102.74 EUR, plus the EUR 40 compensation.
    await _pay(db, invoice, 1, datetime(2024, 4, 30, 10, tzinfo=UTC))
    async with db.session() as session:
        row = await invoices_repo.get_invoice(session, invoice_id=invoice.id, for_update=True)
        assert row is not None
        row.paid_at = datetime(2024, 4, 30, 10, tzinfo=UTC)  # accrual ends on that day
        session.add(row)
    activities = EmailActivities(db, OutboxSender(), settings)
    key = f"test-interest-{uuid.uuid4().hex}"
    await activities.send_invoice_email(
        SendEmailInput(invoice_id=invoice.id or 0, kind=EmailKind.overdue, idempotency_key=key, reminder_step=3)
    )
    async with db.session() as session:
        message = await messages_repo.get_message(session, idempotency_key=key)
    assert message is not None
    assert "Late-payment interest of €102.74 has accrued up to 2024-04-30" in message.body_text
    assert "fixed compensation of €40.00" in message.body_text
