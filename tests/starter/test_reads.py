"""The read-only commands that answer through psycopg alone (starter/reads.py, issue 11 item 15) print what the
services say: the same invoices, clients, balances and workspaces, without importing the ORM."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.services import clients as clients_service
from billflow.services.invoicing import issue_invoice
from models.invoices import Invoice

# Imported before a test patches starter.common.get_settings: these modules bind the name at import, and a first
# import under the patch would keep the test's settings for every later test of the session.
from starter import clients, invoices, reads, workspaces  # noqa: F401
from starter.cli import app
from tests.factories import make_booking, make_client

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    return settings


async def _issue(db: Database, *, name: str, due_in: timedelta) -> Invoice:
    booking = make_booking(client=make_client(name=name), payment_terms=due_in, issued_at=datetime.now(UTC))
    async with db.session() as session:
        return await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)


async def test_invoice_list_shows_the_newest_invoices_with_their_balance(db: Database, cli_settings: Settings) -> None:
    older = await _issue(db, name=f"Older {uuid.uuid4().hex[:6]}", due_in=timedelta(days=14))
    newer = await _issue(db, name=f"Newer {uuid.uuid4().hex[:6]}", due_in=timedelta(days=14))
    result = runner.invoke(app, ["invoice", "list", "--limit", "2"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Invoices (2)" in result.output
    assert result.output.index(newer.number) < result.output.index(older.number)  # newest first
    assert "£385.00" in result.output  # make_booking's total, and its balance (nothing paid)


async def test_invoice_list_by_status_matches_the_json_of_the_models(db: Database, cli_settings: Settings) -> None:
    await _issue(db, name="Status Check", due_in=timedelta(days=14))
    table = runner.invoke(app, ["invoice", "list", "--status", "open", "--limit", "1000"], env=WIDE)
    as_json = await asyncio.to_thread(  # the ORM path runs its own event loop
        runner.invoke, app, ["invoice", "list", "--status", "open", "--limit", "1000", "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    numbers = [row["number"] for row in json.loads(as_json.output)]
    assert numbers and f"Invoices ({len(numbers)})" in table.output
    assert all(number in table.output for number in numbers)


async def test_client_list_shows_the_overdue_part_the_service_computes(db: Database, cli_settings: Settings) -> None:
    name = f"Overdue {uuid.uuid4().hex[:6]}"
    invoice = await _issue(db, name=name, due_in=timedelta(days=14))
    async with db.session() as session:  # due two days ago
        row = await session.get(Invoice, invoice.id)
        assert row is not None
        row.due_at = datetime.now(UTC) - timedelta(days=2)
        session.add(row)
    result = runner.invoke(app, ["client", "list", "-q", name], env=WIDE)
    assert result.exit_code == 0, result.output
    async with db.session() as session:
        [summary] = await clients_service.list_clients(session, query=name, zone=cli_settings.reporting_timezone)
    [balance] = summary.balances
    assert balance.overdue_minor == balance.balance_minor == 38_500
    assert result.output.count("£385.00") == 2  # open balance and overdue
    assert name in result.output


def test_client_list_search_treats_like_wildcards_literally(db: Database, cli_settings: Settings) -> None:
    result = runner.invoke(app, ["client", "list", "-q", "%_nobody_%"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Clients (0)" in result.output


def test_workspace_list_shows_the_default_workspace(db: Database, cli_settings: Settings) -> None:
    result = runner.invoke(app, ["workspace", "list"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "default" in result.output and "EUR" in result.output


def test_show_of_an_unknown_number_fails_before_temporal(db: Database, cli_settings: Settings) -> None:
    result = runner.invoke(app, ["invoice", "show", "INV-1999-999999"])
    assert result.exit_code == 1
    assert "no invoice numbered INV-1999-999999" in result.output


@pytest.mark.parametrize("command", [["invoice", "list"], ["client", "list"], ["workspace", "list"]])
def test_read_only_tables_import_no_orm(command: list[str], database_url: str, db: Database) -> None:
    probe = (
        "import sys; sys.argv = ['billflow', *sys.argv[1:]]\n"
        "from starter.cli import app\n"
        "try:\n    app()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'sqlmodel', 'alembic', 'temporalio'}))"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_conninfo_accepts_every_spelling_of_the_url() -> None:
    for scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        assert reads.conninfo(f"{scheme}://u:p@h:5/d") == "postgresql://u:p@h:5/d"


def test_a_database_without_the_schema_is_upgraded_before_it_is_read(
    database_url: str, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    url = make_url(database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"billflow_reads_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    fresh = settings.model_copy(update={"database_url": url.set(database=name).render_as_string(hide_password=False)})
    monkeypatch.setattr("starter.common.get_settings", lambda: fresh)
    try:
        result = runner.invoke(app, ["invoice", "list"], env=WIDE)
        assert result.exit_code == 0, result.output
        assert "Invoices (0)" in result.output
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
