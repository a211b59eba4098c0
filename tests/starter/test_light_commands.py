"""The read-only commands answer without SQLAlchemy or temporalio (issue 11, item 15): each runs in a fresh
interpreter, which then reports what it imported; a regression that pulls the ORM or the Temporal SDK back into
one of them fails here. `invoice show`, `subscription list|show`, `credit-note list|show` and `client show` print
from psycopg rows what they printed from the models and services: the same text, and --json the same JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from billflow import periods
from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import clients as clients_service
from billflow.services import credit_notes as credit_notes_service
from billflow.services import documents as documents_service
from billflow.services import subscription_actions
from billflow.services import subscriptions as subscriptions_service
from billflow.services.invoicing import issue_invoice
from models.enums import CreditNoteKind
from models.invoices import Invoice
from models.payments import Payment
from models.subscription_io import PeriodOutcome, RecordPeriodInput, SubscriptionChange, interval_text
from models.workflow_io import LineIn
from starter import clients, documents, invoices, reads, subscriptions  # noqa: F401 (bound before the patches)
from starter.cli import app
from starter.reads import client_records, credit_notes
from starter.reads import subscriptions as subscription_reads
from tests.factories import make_booking, make_client, seconds_policy
from tests.subscriptions.support import make_subscription

HEAVY = {"sqlalchemy", "sqlmodel", "alembic", "temporalio"}
PROBE = (
    "import json, sys; sys.argv = ['billflow', *sys.argv[1:]]\n"
    "from starter.cli import app\n"
    "try:\n    app()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
    f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(HEAVY)!r}))))"
)
runner = CliRunner()
WIDE = {"COLUMNS": "220"}


def imported_heavy(*command: str, database_url: str) -> list[str]:
    # Nothing listens on port 9 here: `invoice show` must find that out without importing temporalio.
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200", "TEMPORAL_ADDRESS": "127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    heavy: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return heavy


async def _invoice_with_a_payment(db: Database) -> Invoice:
    booking = make_booking(client=make_client(name=f"Show {uuid.uuid4().hex[:6]}"), issued_at=datetime.now(UTC))
    async with db.session() as session:
        invoice = await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
        assert invoice.id is not None
        session.add(
            Payment(
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                provider="manual",
                provider_reference=f"ref-{uuid.uuid4().hex}",
                amount_minor=1_000,
                currency=invoice.currency,
                received_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    return invoice


REPORT_COMMANDS = [
    ["report", "aging"],
    ["report", "cash", "--grain", "week"],
    ["report", "dso", "--csv"],
    ["report", "top-overdue", "--json"],
    ["report", "effectiveness"],
]


@pytest.mark.parametrize("command", REPORT_COMMANDS, ids=" ".join)
def test_reports_import_neither_the_orm_nor_temporal(command: list[str], database_url: str, db: Database) -> None:
    assert imported_heavy(*command, database_url=database_url) == []


async def test_invoice_show_imports_neither_the_orm_nor_temporal(database_url: str, db: Database) -> None:
    invoice = await _invoice_with_a_payment(db)
    assert imported_heavy("invoice", "show", invoice.number, database_url=database_url) == []


def test_the_database_url_module_is_light() -> None:
    code = "import json, sys, billflow.db_url, starter.reads; print(json.dumps([m.split('.')[0] for m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert not set(json.loads(done.stdout)) & HEAVY


async def test_invoice_show_prints_from_psycopg_what_it_printed_from_the_models(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    invoice = await _invoice_with_a_payment(db)
    assert invoice.id is not None
    async with db.session() as session:  # the models, as `invoice show` read them before (its repositories)
        models = reads.InvoiceFacts(
            invoice=await invoices_repo.get_invoice(session, number=invoice.number),
            client=await clients_repo.get_client(session, client_id=invoice.client_id),
            lines=list(await invoices_repo.get_lines(session, invoice_id=invoice.id)),
            payments=list(await payments_repo.list_payments(session, invoice_id=invoice.id)),
            messages=list(await messages_repo.list_messages(session, invoice_id=invoice.id)),
            events=list(await timeline_repo.list_events(session, invoice_id=invoice.id)),
        )
    assert models.lines and models.payments and models.events
    through_psycopg = runner.invoke(app, ["invoice", "show", invoice.number, "--no-live"], env=WIDE)
    assert through_psycopg.exit_code == 0, through_psycopg.output
    monkeypatch.setattr(reads, "invoice_facts", lambda conn, *, number: models)
    through_models = runner.invoke(app, ["invoice", "show", invoice.number, "--no-live"], env=WIDE)
    assert through_psycopg.output == through_models.output
    assert invoice.number in through_psycopg.output and "£10.00" in through_psycopg.output


def test_temporal_that_does_not_listen_is_not_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEMPORAL_CONFIG_FILE", raising=False)
    monkeypatch.delenv("TEMPORAL_PROFILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    assert not invoices._temporal_may_answer("127.0.0.1:9", timeout=1)
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")  # a profile may name another address: leave it to the client
    assert invoices._temporal_may_answer("127.0.0.1:9", timeout=1)


# --- subscriptions, credit notes and the client record (issue 11, item 15) ------------------------------------


async def _subscription_with_history(db: Database) -> str:
    """A subscription with a billed period (and its invoice), a skipped one and a second plan version: what
    `subscription show` lists, written as its workflow's activities write it (no Temporal here)."""
    data = make_subscription(start_date=date.today() - timedelta(days=70))
    async with db.session() as session:
        sub, _ = await subscriptions_service.create_subscription(session, data=data)
    due = periods.periods_until(data.schedule(), datetime.now(UTC))
    async with db.session() as session:
        booking = await subscriptions_service.period_booking(session, subscription_id=sub.id, period=due[0])
        booking = booking.model_copy(update={"issued_at": datetime.now(UTC)})
        await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
        billed = RecordPeriodInput(
            subscription_id=sub.id, period=due[0], outcome=PeriodOutcome.billed, invoice_workflow_id=booking.workflow_id
        )
        await subscriptions_service.record_period(session, data=billed)
        skipped = RecordPeriodInput(subscription_id=sub.id, period=due[1], outcome=PeriodOutcome.skipped, reason="x")
        await subscriptions_service.record_period(session, data=skipped)
        plan = SubscriptionChange(
            subscription_id=sub.id,
            change_key="plan-2",
            lines=[LineIn(description="Retainer", quantity=Decimal("1.5"), unit_price_minor=12_000, tax_rate_bp=2000)],
            effective_from=due[1].end + timedelta(days=1),
        )
        await subscriptions_service.apply_change(session, change=plan)
    return sub.id


async def _invoice_with_a_credit_note(db: Database) -> tuple[Invoice, str]:
    invoice = await _invoice_with_a_payment(db)
    assert invoice.id is not None
    async with db.session() as session:
        note = await credit_notes_service.issue_credit_note(
            session,
            invoice_id=invoice.id,
            kind=CreditNoteKind.partial,
            reason="agreed discount",
            key=f"light:{invoice.id}",
            amount_minor=2_000,
        )
    assert note is not None
    return invoice, note.number


async def _client_with_history(db: Database) -> str:
    """A client with an invoice, a payment, a note, its own reminder policy and paused reminders."""
    invoice = await _invoice_with_a_payment(db)
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
        assert client is not None
        await clients_service.add_note(session, client.external_id, text="Prefers email", author="test")
    change = clients_service.ReminderSettingsChange(reminders_paused=True, reminder_policy=seconds_policy(-60, 60))
    await clients_service.save_reminder_settings(db, client.external_id, change, actor="test")
    return client.external_id


async def test_the_new_light_commands_import_neither_the_orm_nor_temporal(database_url: str, db: Database) -> None:
    sub_id = await _subscription_with_history(db)
    invoice, note = await _invoice_with_a_credit_note(db)
    external_id = await _client_with_history(db)
    commands = [
        ["subscription", "list"],
        ["subscription", "list", "--json"],
        ["subscription", "show", sub_id],
        ["subscription", "show", sub_id, "--json"],
        ["credit-note", "list"],
        ["credit-note", "list", "--invoice", invoice.number, "--json"],
        ["credit-note", "show", note],
        ["credit-note", "show", invoice.number, "--json"],
        ["client", "show", external_id],
        ["client", "show", external_id, "--json"],
        ["client", "list", "--json"],
    ]
    for command in commands:
        assert imported_heavy(*command, database_url=database_url) == [], command


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=WIDE)
    return result.exit_code, result.output


async def test_subscription_list_and_show_print_from_psycopg_what_the_service_gave(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    sub_id = await _subscription_with_history(db)
    view = await subscription_actions.show(db, subscription_id=sub_id)
    summaries = await subscription_actions.list_subscriptions(db, limit=1000)
    assert len(view.periods) == 2 and len(view.plans) == 2 and view.balance_minor > 0

    code, shown_json = invoke("subscription", "show", sub_id, "--json")
    assert code == 0, shown_json
    assert json.loads(shown_json) == view.model_dump(mode="json")
    code, listed_json = invoke("subscription", "list", "--limit", "1000", "--json")
    assert code == 0, listed_json
    assert json.loads(listed_json) == [s.model_dump(mode="json") for s in summaries]
    code, shown = invoke("subscription", "show", sub_id)
    assert code == 0 and sub_id in shown and "Periods" in shown, shown
    code, listed = invoke("subscription", "list", "--limit", "1000")
    assert code == 0 and sub_id in listed

    # The same print code from what the service returns prints the same text.
    monkeypatch.setattr(subscription_reads, "subscription_view", lambda conn, *, subscription_id: view)
    monkeypatch.setattr(subscription_reads, "subscriptions", lambda conn, **_: [s.model_dump() for s in summaries])
    assert invoke("subscription", "show", sub_id) == (0, shown)
    assert invoke("subscription", "list", "--limit", "1000") == (0, listed)


def test_an_unknown_subscription_fails_as_before(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    result = runner.invoke(app, ["subscription", "show", "sub-nope"])
    assert result.exit_code == 1 and "subscription sub-nope does not exist" in result.output


def test_the_schedule_in_words_names_a_row_that_no_longer_validates_by_its_kind() -> None:
    assert interval_text({"kind": "monthly", "every": 2, "day_of_month": 31}).startswith("every 2 months")
    assert interval_text({"kind": "cron", "cron": "0 9 1 * *"}) == "cron 0 9 1 * *"
    assert interval_text({"kind": "weekly", "day_of_month": 3}) == "weekly"  # a weekly plan has no day of month


async def test_credit_notes_print_from_psycopg_what_the_services_gave(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    invoice, number = await _invoice_with_a_credit_note(db)
    async with db.session() as session:
        listed_by_service = await credit_notes_service.list_credit_notes(session, limit=500)
        of_invoice = await credit_notes_service.list_credit_notes(session, invoice_number=invoice.number)
        note_doc = await documents_service.load_document(session, number=number, settings=settings)
        invoice_doc = await documents_service.load_document(session, number=invoice.number, settings=settings)
    assert [n.number for n in of_invoice] == [number] and note_doc.references and invoice_doc.notes

    for args, expected in [
        (["credit-note", "list", "--limit", "500", "--json"], [n.model_dump(mode="json") for n in listed_by_service]),
        (
            ["credit-note", "list", "--invoice", invoice.number, "--json"],
            [n.model_dump(mode="json") for n in of_invoice],
        ),
        (["credit-note", "list", "--invoice", "INV-0000-000000", "--json"], []),
        (["credit-note", "show", number, "--json"], note_doc.model_dump(mode="json")),
        (["credit-note", "show", invoice.number, "--json"], invoice_doc.model_dump(mode="json")),
        (["document", "show", number, "--json"], note_doc.model_dump(mode="json")),
    ]:
        code, out = invoke(*args)
        assert code == 0, out
        assert json.loads(out) == expected, args
    texts = {
        number: invoke("credit-note", "show", number),
        invoice.number: invoke("credit-note", "show", invoice.number),
    }
    listed = invoke("credit-note", "list", "--invoice", invoice.number)
    assert texts[number][0] == 0 and "Credit note for invoice" in texts[number][1]
    assert number in listed[1] and "agreed discount" in listed[1]

    docs = {number: note_doc, invoice.number: invoice_doc}
    monkeypatch.setattr(credit_notes, "document", lambda conn, *, number, settings: docs[number])
    monkeypatch.setattr(credit_notes, "credit_notes", lambda conn, **_: [n.model_dump() for n in of_invoice])
    assert {n: invoke("credit-note", "show", n) for n in docs} == texts
    assert invoke("credit-note", "list", "--invoice", invoice.number) == listed


def test_an_unknown_credit_note_fails_as_before(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    result = runner.invoke(app, ["credit-note", "show", "CN-0000-000000"])
    assert result.exit_code == 1 and "no invoice or credit note CN-0000-000000" in result.output


async def test_client_show_and_list_print_from_psycopg_what_the_service_gave(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    external_id = await _client_with_history(db)
    zone = settings.reporting_timezone
    async with db.session() as session:
        detail = await clients_service.client_detail(session, external_id, zone=zone)
        timeline = await clients_service.client_timeline(session, external_id, limit=30)
        summaries = await clients_service.list_clients(session, query=external_id, zone=zone)
    assert detail.payments and detail.settings.reminder_policy is not None and len(timeline) >= 3
    expected = {**detail.model_dump(mode="json"), "timeline": [t.model_dump(mode="json") for t in timeline]}

    code, shown_json = invoke("client", "show", external_id, "--json")
    assert code == 0, shown_json
    assert json.loads(shown_json) == expected
    code, listed_json = invoke("client", "list", "-q", external_id, "--json")
    assert code == 0, listed_json
    assert json.loads(listed_json) == [s.model_dump(mode="json") for s in summaries]
    code, shown = invoke("client", "show", external_id)
    assert code == 0 and "Reminders: paused, own policy" in shown and "Prefers email" in shown, shown

    dumped = {**detail.model_dump(), "timeline": [t.model_dump() for t in timeline]}
    monkeypatch.setattr(client_records, "client_detail", lambda conn, **_: dumped)
    assert invoke("client", "show", external_id) == (0, shown)


async def test_an_unknown_or_ambiguous_client_fails_as_before(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    code, out = invoke("client", "show", "nobody-here")
    assert code == 1 and "no client with external id 'nobody-here'" in out
    code, out = invoke("client", "show", "nobody-here", "--source", "staff")
    assert code == 1 and "from source 'staff'" in out
    shared = make_client()
    async with db.session() as session:
        for source in ("staff", "integration:other"):
            await clients_repo.upsert_client(session, client=shared, source=source, actor="test")
    code, out = invoke("client", "show", shared.external_id)
    assert code == 1 and "is used by several sources (staff, integration:other): give the source" in out
