"""`key list`, `user list`, `integration list`, `catalog list`, `outbox`, `db current` and `invoice list --json`
read through psycopg alone (issue 11, item 15): none of them imports the ORM, and each prints (table and --json)
what the services' models printed before, on the same data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.services import api_keys, catalog, integrations, users
from billflow.services.invoicing import issue_invoice
from models.email_messages import EmailMessage
from models.service_catalog import CatalogEntryIn
from starter.cli import app
from starter.reads import admin
from tests.factories import make_booking, make_client
from tests.starter.test_light_commands import imported_heavy

runner = CliRunner()
WIDE = {"COLUMNS": "220"}


@pytest.fixture
async def some_of_each(db: Database) -> None:
    tag = uuid.uuid4().hex[:8]
    revoked = await api_keys.create_key(db, api_keys.NewApiKey(name=f"old {tag}", role=api_keys.ApiRole.admin))
    await api_keys.revoke_key(db, key_id=revoked.key_id)
    await api_keys.create_key(db, api_keys.NewApiKey(name=f"desk {tag}"))
    await users.create_user(db, users.NewUser(email=f"ana-{tag}@example.com", name="Ana"))
    await integrations.create_integration(db, integrations.NewIntegration(name=f"cal-{tag}"))
    entry = CatalogEntryIn(event_type=f"t{tag}", service_name="Massage", unit_price_minor=9000, currency="GBP")
    await catalog.add_entry(db, entry)
    async with db.session() as session:
        await messages_repo.claim_message(
            session,
            message=EmailMessage(
                idempotency_key=f"light-{tag}",
                kind="invoice",
                to_email="client@example.com",
                subject=f"Invoice {tag}",
                body_text="Please pay",
                backend="outbox",
            ),
        )


async def _keys(db: Database) -> list[Any]:
    return list(await api_keys.list_keys(db))


async def _users(db: Database) -> list[Any]:
    return list(await users.list_users(db))


async def _integrations(db: Database) -> list[Any]:
    return list(await integrations.list_integrations(db))


async def _catalog(db: Database) -> list[Any]:
    return list(await catalog.list_entries(db))


async def _messages(db: Database) -> list[Any]:
    async with db.session() as session:
        return list(await messages_repo.list_messages(session, limit=20))


# (command, the light read it stands on, what the services return for it)
CASES = [
    pytest.param(["key", "list"], "api_keys", _keys, id="key list"),
    pytest.param(["user", "list"], "users", _users, id="user list"),
    pytest.param(["integration", "list"], "integrations", _integrations, id="integration list"),
    pytest.param(["catalog", "list"], "catalog_entries", _catalog, id="catalog list"),
    pytest.param(["outbox"], "messages", _messages, id="outbox"),
]


@pytest.mark.parametrize(("command", "read", "through_services"), CASES)
async def test_prints_through_psycopg_what_it_printed_through_the_models(
    command: list[str],
    read: str,
    through_services: Callable[[Database], Any],
    some_of_each: None,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    models = await through_services(db)
    assert models, "the fixture wrote one of each"
    light_table = runner.invoke(app, command, env=WIDE)
    light_json = runner.invoke(app, [*command, "--json"], env=WIDE)
    assert light_table.exit_code == 0 and light_json.exit_code == 0, light_table.output + light_json.output
    assert json.loads(light_json.output) == [m.model_dump(mode="json") for m in models]

    monkeypatch.setattr(admin, read, lambda conn, **_: models)
    through_models = runner.invoke(app, command, env=WIDE)
    assert through_models.exit_code == 0, through_models.output
    assert light_table.output == through_models.output


async def test_outbox_prints_one_message_in_full_and_refuses_an_unknown_id(
    some_of_each: None, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    newest = (await _messages(db))[0]
    shown = runner.invoke(app, ["outbox", str(newest.id)], env=WIDE)
    assert shown.exit_code == 0 and newest.subject in shown.output and "Please pay" in shown.output
    as_json = runner.invoke(app, ["outbox", str(newest.id), "--json"], env=WIDE)
    assert json.loads(as_json.output) == [newest.model_dump(mode="json")]
    unknown = runner.invoke(app, ["outbox", "2147483000"], env=WIDE)
    assert unknown.exit_code == 1 and "no email with id 2147483000" in unknown.output


async def test_invoice_list_json_has_every_column_the_models_dumped(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    for name in ("Ana", "Ben"):
        booking = make_booking(client=make_client(name=f"{name} {uuid.uuid4().hex[:6]}"), issued_at=datetime.now(UTC))
        async with db.session() as session:
            await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
    async with db.session() as session:
        rows = await invoices_repo.list_invoices(session, status="open", limit=3)
    through_models = [{**inv.model_dump(mode="json"), "client": cl.model_dump(mode="json")} for inv, cl in rows]
    light = runner.invoke(app, ["invoice", "list", "--status", "open", "--limit", "3", "--json"], env=WIDE)
    assert light.exit_code == 0, light.output
    assert json.loads(light.output) == through_models and len(through_models) >= 2


def test_db_current_names_the_revision_without_upgrading(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from billflow.schema_version import head_revisions

    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    done = runner.invoke(app, ["db", "current"], env=WIDE)
    (head,) = head_revisions()
    assert done.exit_code == 0, done.output
    assert f"database: {head}" in done.output and f"code head: {head}" in done.output


@pytest.mark.parametrize(
    "command",
    [
        ["key", "list"],
        ["user", "list", "--json"],
        ["integration", "list"],
        ["catalog", "list"],
        ["outbox"],
        ["db", "current"],
        ["invoice", "list", "--json"],
    ],
    ids=" ".join,
)
def test_imports_neither_the_orm_nor_temporal(command: list[str], database_url: str, db: Database) -> None:
    assert imported_heavy(*command, database_url=database_url) == []


async def test_client_settings_without_a_change_show_what_the_service_read(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billflow.services import clients as clients_service
    from models.workflow_io import ReminderPolicy

    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    booking = make_booking(client=make_client(), issued_at=datetime.now(UTC))
    async with db.session() as session:
        await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
    external_id = booking.client.external_id
    bare = runner.invoke(app, ["client", "settings", external_id, "--json"], env=WIDE)
    assert bare.exit_code == 0, bare.output
    assert json.loads(bare.output) == {"reminders_paused": False, "auto_pay": False, "reminder_policy": None}
    policy = ReminderPolicy.model_validate({"steps": [{"offset": "-P2D"}, {"offset": "P3D", "template": "overdue"}]})
    change = clients_service.ReminderSettingsChange(reminders_paused=True, reminder_policy=policy)
    await clients_service.save_reminder_settings(db, external_id, change, actor="test")
    async with db.session() as session:
        client = await clients_service.require_client(session, external_id)
        assert client.id is not None
        through_service = await clients_service.reminder_settings(session, client.id)
    light = runner.invoke(app, ["client", "settings", external_id, "--json"], env=WIDE)
    assert json.loads(light.output) == through_service.model_dump(mode="json")
    table = runner.invoke(app, ["client", "settings", external_id], env=WIDE)
    assert table.exit_code == 0 and "'reminders_paused': True" in table.output
    unknown = runner.invoke(app, ["client", "settings", "no-such-client"], env=WIDE)
    assert unknown.exit_code == 1 and "no client with external id 'no-such-client'" in unknown.output


async def test_client_settings_without_a_change_import_neither_the_orm_nor_temporal(
    database_url: str, db: Database
) -> None:
    booking = make_booking(client=make_client(), issued_at=datetime.now(UTC))
    async with db.session() as session:
        await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
    assert imported_heavy("client", "settings", booking.client.external_id, database_url=database_url) == []


async def test_client_documents_without_a_change_show_what_the_service_read(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from billflow.services import client_documents

    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    booking = make_booking(client=make_client(), issued_at=datetime.now(UTC))
    async with db.session() as session:
        await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)
    external_id = booking.client.external_id
    change = client_documents.DocumentSettingsChange(einvoice_format="facturx", buyer_reference="PO 7")
    async with db.session() as session:
        await client_documents.update_document_settings(session, external_id, change)
    async with db.session() as session:
        through_service = await client_documents.document_settings(session, external_id)
    light = runner.invoke(app, ["client", "documents", external_id, "--json"], env=WIDE)
    assert json.loads(light.output) == through_service.model_dump(mode="json")
    shown = runner.invoke(app, ["client", "documents", external_id], env=WIDE)
    assert shown.output == f"{external_id}: facturx (buyer reference: PO 7)\n"
    unknown = runner.invoke(app, ["client", "documents", "no-such-client"], env=WIDE)
    assert unknown.exit_code == 1 and "no client with external id 'no-such-client'" in unknown.output
    assert imported_heavy("client", "documents", external_id, database_url=database_url) == []
