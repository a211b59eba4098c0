"""The read-only commands answer without SQLAlchemy or temporalio (issue 11, item 15): each runs in a fresh
interpreter, which then reports what it imported; a regression that pulls the ORM or the Temporal SDK back into
one of them fails here. `invoice show` prints from psycopg rows what it printed from the models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services.invoicing import issue_invoice
from models.invoices import Invoice
from models.payments import Payment
from starter import invoices, reads
from starter.cli import app
from tests.factories import make_booking, make_client

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
