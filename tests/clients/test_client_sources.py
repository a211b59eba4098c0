"""Clients belong to their source (issue 11, item 2): a second integration, or a staff key, posting a booking
with the first integration's client id gets a client of its own; the first one's email, and so its invoices'
emails and pay links, stay where they were. A change of a client's email is on its timeline, with who made it."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import integrations
from models.client_sources import STAFF_SOURCE, integration_source
from starter.cli import app as cli
from tests.api.support import confirmed_event, post_signed
from tests.factories import make_booking, make_client


async def _second_integration(db: Database) -> tuple[str, str]:
    created = await integrations.create_integration(
        db, integrations.NewIntegration(name=f"shop-{uuid.uuid4().hex[:8]}")
    )
    return created.name, created.secret


def _booking_for(external_id: str, email: str) -> dict[str, object]:
    body = confirmed_event()
    body["data"]["client"] |= {"external_id": external_id, "email": email}  # type: ignore[index]
    return body


async def test_the_same_external_id_from_two_sources_is_two_clients(db: Database) -> None:
    first = make_client()
    other = first.model_copy(update={"email": "mallory@example.com", "name": "Mallory"})
    async with db.session() as session:
        a = await clients_repo.upsert_client(session, client=first, source="integration:a", actor="integration:a")
        b = await clients_repo.upsert_client(session, client=other, source="integration:b", actor="integration:b")
    assert a != b
    async with db.session() as session:
        owned = await clients_repo.get_client(session, external_id=first.external_id, source="integration:a")
    assert owned is not None and (owned.email, owned.name) == (first.email, first.name)


async def test_an_email_change_is_on_the_timeline_with_who_made_it(db: Database) -> None:
    client = make_client()
    moved = client.model_copy(update={"email": "new-address@example.com"})
    async with db.session() as session:
        client_id = await clients_repo.upsert_client(session, client=client, source=STAFF_SOURCE, actor="cli")
        await clients_repo.upsert_client(session, client=client, source=STAFF_SOURCE, actor="cli")  # unchanged
        await clients_repo.upsert_client(session, client=moved, source=STAFF_SOURCE, actor="api_key:ops")
    async with db.session() as session:
        events = [
            e for e in await timeline_repo.list_events(session, client_id=client_id) if e.kind.startswith("client.")
        ]
    assert [(e.kind, e.data["from"], e.data["to"], e.data["by"]) for e in events] == [
        ("client.email_changed", client.email, "new-address@example.com", "api_key:ops")
    ]
    assert "by api_key:ops" in events[0].message


async def test_a_second_integration_cannot_redirect_the_first_ones_client(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    external_id = f"cus-{uuid.uuid4().hex[:8]}"
    first = await post_signed(http, name, secret, _booking_for(external_id, "grace@example.com"))
    assert first.status_code == 202, first.text
    other, other_secret = await _second_integration(db)
    takeover = await post_signed(http, other, other_secret, _booking_for(external_id, "mallory@example.com"))
    assert takeover.status_code == 202, takeover.text

    async with db.session() as session:
        owned = await clients_repo.get_client(session, external_id=external_id, source=integration_source(name))
        foreign = await clients_repo.get_client(session, external_id=external_id, source=integration_source(other))
        assert owned is not None and foreign is not None and owned.id != foreign.id
        assert owned.email == "grace@example.com"
        invoice = await invoices_repo.get_invoice(session, number=first.json()["invoice_number"])
        assert invoice is not None and invoice.client_id == owned.id and invoice.id is not None
        sent = await messages_repo.list_messages(session, invoice_id=invoice.id)
    assert sent and {m.to_email for m in sent} == {"grace@example.com"}


async def test_a_staff_key_naming_an_integration_cannot_redirect_its_client(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database, staff_headers: dict[str, str]
) -> None:
    name, secret = integration
    external_id = f"cus-{uuid.uuid4().hex[:8]}"
    assert (await post_signed(http, name, secret, _booking_for(external_id, "grace@example.com"))).status_code == 202
    headers = staff_headers | {integrations.INTEGRATION_HEADER: name}
    response = await http.post("/v1/events", json=_booking_for(external_id, "mallory@example.com"), headers=headers)
    assert response.status_code == 202, response.text
    async with db.session() as session:
        owned = await clients_repo.get_client(session, external_id=external_id, source=integration_source(name))
        staffs = await clients_repo.get_client(session, external_id=external_id, source=STAFF_SOURCE)
    assert owned is not None and owned.email == "grace@example.com"
    assert staffs is not None and staffs.email == "mallory@example.com"


@pytest.mark.usefixtures("worker")
async def test_client_lookups_by_external_id_ask_for_the_source_when_two_use_it(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database, staff_headers: dict[str, str]
) -> None:
    name, secret = integration
    external_id = f"cus-{uuid.uuid4().hex[:8]}"
    assert (await post_signed(http, name, secret, _booking_for(external_id, "grace@example.com"))).status_code == 202
    assert (await http.get(f"/v1/clients/{external_id}", headers=staff_headers)).json()[
        "source"
    ] == f"integration:{name}"
    other, other_secret = await _second_integration(db)
    assert (await post_signed(http, other, other_secret, _booking_for(external_id, "m@example.com"))).status_code == 202

    ambiguous = await http.get(f"/v1/clients/{external_id}", headers=staff_headers)
    assert ambiguous.status_code == 409 and "source" in ambiguous.json()["detail"]
    chosen = await http.get(
        f"/v1/clients/{external_id}", params={"source": f"integration:{name}"}, headers=staff_headers
    )
    assert chosen.status_code == 200 and chosen.json()["email"] == "grace@example.com"
    timeline = await http.get(
        f"/v1/clients/{external_id}/timeline", params={"source": f"integration:{other}"}, headers=staff_headers
    )
    assert timeline.status_code == 200


async def test_a_cli_booking_naming_an_integration_gets_a_staff_client(
    monkeypatch: pytest.MonkeyPatch,
    api_settings: Settings,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    tmp_path: Path,
) -> None:
    owner = integration_source("owner")
    external_id = f"cus-{uuid.uuid4().hex[:8]}"
    async with db.session() as session:
        await clients_repo.upsert_client(
            session, client=make_client(external_id=external_id, email="grace@example.com"), source=owner, actor=owner
        )
    # The file claims the integration's source and client source: the CLI is staff whatever the file says.
    booking = make_booking(
        source="owner", client=make_client(external_id=external_id, email="mallory@example.com")
    ).model_dump(mode="json") | {"client_source": owner}
    path = tmp_path / "booking.json"
    path.write_text(json.dumps(booking))
    assert api_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", api_settings.database_url)
    monkeypatch.setenv("BILLFLOW_TASK_QUEUE", api_settings.task_queue)
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_env.client.service_client.config.target_host)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["invoice", "create", str(path), "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    async with db.session() as session:
        owned = await clients_repo.get_client(session, external_id=external_id, source=owner)
        staffs = await clients_repo.get_client(session, external_id=external_id, source=STAFF_SOURCE)
    assert owned is not None and owned.email == "grace@example.com"
    assert staffs is not None and staffs.email == "mallory@example.com"
