"""A workspace's default currency and payment terms fill what a booking leaves out (issue 15): the CLI's booking
file (`billflow invoice create`), booking events through the API and the staff app's new-invoice form."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.services import workspaces
from billflow.web.pages.new_invoice import _booking
from models.invoices import Invoice
from models.workspaces import WorkspaceUpdate
from starter.cli import app as cli
from tests.api.conftest import api_settings, http, integration, temporal_env, worker  # noqa: F401  (fixtures)
from tests.api.conftest import app as api_app  # noqa: F401  (the `app` fixture, used by `http`)
from tests.api.support import confirmed_event, post_signed
from tests.app.support import workspace_profile_kept
from tests.factories import make_booking

FRANCS = WorkspaceUpdate(default_currency="CHF", payment_terms_days=45)


async def _wait_invoice(db: Database, workflow_id: str) -> Invoice:
    for _ in range(200):
        async with db.session() as session:
            found = await invoices_repo.get_invoice(session, workflow_id=workflow_id)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no invoice for {workflow_id}")


async def _cli_create(
    booking: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    address: str,
    *extra: str,
    exit_code: int = 0,
) -> dict[str, object]:
    path = tmp_path / "booking.json"
    path.write_text(json.dumps(booking))
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BILLFLOW_TASK_QUEUE", settings.task_queue)
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["invoice", "create", str(path), "--json", *extra])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == exit_code, result.output
    if exit_code:
        return {"output": result.output}
    answer: dict[str, object] = json.loads(result.output)
    return answer


async def test_cli_booking_without_currency_or_terms_takes_the_workspaces(
    monkeypatch: pytest.MonkeyPatch,
    api_settings: Settings,  # noqa: F811
    time_env: WorkflowEnvironment,
    worker: Worker,  # noqa: F811
    db: Database,
    tmp_path: Path,
) -> None:
    booking = make_booking().model_dump(mode="json")
    del booking["currency"], booking["payment_terms"]
    address = time_env.client.service_client.config.target_host
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, FRANCS)
        answer = await _cli_create(booking, tmp_path, monkeypatch, api_settings, address)
    invoice = await _wait_invoice(db, str(answer["workflow_id"]))
    assert invoice.currency == "CHF"
    assert (invoice.due_date - invoice.issue_date).days == 45


async def test_cli_booking_with_its_own_currency_and_terms_keeps_them(
    monkeypatch: pytest.MonkeyPatch,
    api_settings: Settings,  # noqa: F811
    time_env: WorkflowEnvironment,
    worker: Worker,  # noqa: F811
    db: Database,
    tmp_path: Path,
) -> None:
    booking = make_booking().model_dump(mode="json")  # GBP, 14 days
    address = time_env.client.service_client.config.target_host
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, FRANCS)
        answer = await _cli_create(booking, tmp_path, monkeypatch, api_settings, address)
    invoice = await _wait_invoice(db, str(answer["workflow_id"]))
    assert invoice.currency == "GBP"
    assert (invoice.due_date - invoice.issue_date).days == 14


async def test_an_event_without_a_currency_takes_its_workspaces(
    http: httpx.AsyncClient,  # noqa: F811
    worker: Worker,  # noqa: F811
    integration: tuple[str, str],  # noqa: F811
    db: Database,
) -> None:
    name, secret = integration
    body = confirmed_event()
    del body["data"]["currency"]
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, FRANCS)
        response = await post_signed(http, name, secret, body)
    assert response.status_code == 202, response.text
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=response.json()["invoice_number"])
    assert invoice is not None
    assert invoice.currency == "CHF"
    assert (invoice.due_date - invoice.issue_date).days == 14  # the event's own terms stay


def test_the_new_invoice_form_left_empty_takes_the_workspaces_currency_and_terms() -> None:
    form = {"client_name": "Ada", "client_email": "ada@example.com", "client_timezone": "UTC", "currency": "",
            "terms_days": "", "line1_description": "Session", "line1_price": "120"}  # fmt: skip
    booking = _booking(form, [], [], workspaces.InvoiceDefaults(currency="CHF", payment_terms_days=45), workspace_id=1)
    assert booking.currency == "CHF" and booking.payment_terms.days == 45
    typed = _booking(
        form | {"currency": "usd", "terms_days": "7"}, [], [], workspaces.FALLBACK_DEFAULTS, workspace_id=1
    )
    assert typed.currency == "USD" and typed.payment_terms.days == 7


async def test_cli_booking_is_issued_by_the_named_workspace_and_an_unknown_one_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    api_settings: Settings,  # noqa: F811
    time_env: WorkflowEnvironment,
    worker: Worker,  # noqa: F811
    db: Database,
    tmp_path: Path,
) -> None:
    from tests.workspaces.support import make_workspace

    other = await make_workspace(db)
    address = time_env.client.service_client.config.target_host
    booking = make_booking().model_dump(mode="json")
    answer = await _cli_create(booking, tmp_path, monkeypatch, api_settings, address, "--workspace", other.slug)
    invoice = await _wait_invoice(db, str(answer["workflow_id"]))
    assert invoice.workspace_id == other.id and str(answer["workflow_id"]).startswith(f"invoice-w{other.id}-")

    unknown = make_booking().model_dump(mode="json")
    refused = await _cli_create(
        unknown, tmp_path, monkeypatch, api_settings, address, "--workspace", "no-such-business", exit_code=2
    )
    assert "--workspace" in str(refused["output"]) and "no-such-business" in str(refused["output"])
    async with db.session() as session:
        workflow_id = f"invoice-w1-{unknown['source']}-{unknown['booking_id']}"
        assert await invoices_repo.get_invoice(session, workflow_id=workflow_id) is None


async def test_a_booking_without_a_policy_follows_its_workspaces_default_policy(db: Database) -> None:
    from datetime import timedelta

    from billflow.services import clients as clients_service
    from models.workflow_io import ReminderPolicy, ReminderStep
    from tests.workspaces.support import make_workspace

    own = ReminderPolicy(steps=[ReminderStep(offset=timedelta(days=2))], send_hour=10)
    b = await make_workspace(db)
    await workspaces.update_workspace(db, b.slug, WorkspaceUpdate(reminder_policy=own))
    named = ReminderPolicy(steps=[], send_hour=8)
    async with db.session() as session:
        silent = await clients_service.prepare_client_invoice(session, make_booking(workspace_id=b.id))
        chosen = await clients_service.prepare_client_invoice(
            session, make_booking(workspace_id=b.id, reminder_policy=named)
        )
        first = await clients_service.prepare_client_invoice(session, make_booking())
    assert silent.booking.reminder_policy == own  # the workspace's, where the booking names none
    assert chosen.booking.reminder_policy == named  # a booking's own policy wins
    assert first.booking.reminder_policy == ReminderPolicy.standard()  # a workspace without one: the standard
