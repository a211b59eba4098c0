"""The client portal: a magic link by email shows one client their invoices and payments with pay links; it
expires and can be revoked, and it never shows another client's invoices."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import portal as portal_repo
from billflow.services import portal
from billflow.services.invoice_runs import start_invoice
from models.columns import utcnow
from models.invoices import Invoice
from models.workflow_io import ClientIn
from tests.factories import make_booking, make_client
from tests.web.conftest import load_invoice, start_and_wait_issued
from tests.workflows.support import until

LINK = re.compile(r"http://billflow\.test/p/([A-Za-z0-9_-]+)")


async def _issued_for(time_env: WorkflowEnvironment, worker: Worker, db: Database, client: ClientIn) -> Invoice:
    handle = await start_invoice(time_env.client, make_booking(client=client), task_queue=worker.task_queue)
    state = await until(handle, lambda s: s.issued_email_sent)
    return await load_invoice(db, state.invoice_id)


async def _external_id(db: Database, client_id: int) -> str:
    async with db.session() as session:
        client = await clients_repo.get_client(session, client_id=client_id)
    assert client is not None
    return client.external_id


def _pdf_text(content: bytes) -> bytes:
    """The decompressed page streams of an fpdf2 PDF (its text is in them, in the core fonts)."""
    import zlib

    return b"".join(
        zlib.decompress(part.split(b"endstream")[0].strip(b"\r\n"))
        for part in content.split(b"stream")[1:]
        if part.split(b"endstream")[0].strip(b"\r\n")[:1] == b"x"
    )


async def test_magic_link_is_emailed_and_shows_only_that_clients_invoices(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    client = make_client()
    first = await _issued_for(time_env, worker, db, client)
    second = await _issued_for(time_env, worker, db, client)
    someone_else = await start_and_wait_issued(time_env.client, worker, db)
    issued = await portal.issue_link(db, settings, external_id=client.external_id)
    async with db.session() as session:
        message = await messages_repo.get_message(session, message_id=issued.message_id)
    assert message is not None and message.to_email == client.email and message.kind == "portal_link"
    match = LINK.search(message.body_text)
    assert match and issued.url.endswith(match.group(1))

    page = await http.get(f"/p/{match.group(1)}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert first.number in page.text and second.number in page.text
    assert someone_else.number not in page.text
    assert f"/pay/{first.public_token}" in page.text


async def test_expired_revoked_and_unknown_links_are_404(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    external_id = await _external_id(db, invoice.client_id)
    revoked = await portal.issue_link(db, settings, external_id=external_id)
    expired = await portal.issue_link(db, settings, external_id=external_id)
    assert await portal.revoke_link(db, link_id=revoked.link_id)
    async with db.session() as session:
        link = await portal_repo.get_link(session, link_id=expired.link_id, for_update=True)
        assert link is not None
        link.expires_at = utcnow() - timedelta(seconds=1)
        session.add(link)
    for url in (revoked.url, expired.url, "http://billflow.test/p/not-a-real-link"):
        assert (await http.get(url.removeprefix("http://billflow.test"))).status_code == 404
    assert not await portal.revoke_link(db, link_id=10**9)
    with pytest.raises(portal.ClientNotFound):
        await portal.issue_link(db, settings, external_id="nobody-at-all")


async def test_cli_links_and_revokes(
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    http: httpx.AsyncClient,
) -> None:
    import asyncio

    from starter.cli import app

    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    monkeypatch.setattr("starter.portal.get_settings", lambda: settings)
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    external_id = await _external_id(db, invoice.client_id)

    async def invoke(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
        return result.exit_code, result.output

    code, out = await invoke("portal", "link", external_id, "--days", "3", "--json")
    assert code == 0, out
    created = json.loads(out)
    path = created["url"].removeprefix("http://billflow.test")
    assert (await http.get(path)).status_code == 200
    code, out = await invoke("portal", "revoke", str(created["link_id"]))
    assert code == 0, out
    assert (await http.get(path)).status_code == 404
    code, out = await invoke("portal", "link", "nobody-here")
    assert code == 1 and "no client" in out


async def test_statement_pdf_lists_the_clients_invoices_and_the_balance_due(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    client = make_client()
    invoice = await _issued_for(time_env, worker, db, client)
    issued = await portal.issue_link(db, settings, external_id=client.external_id)
    path = issued.url.removeprefix("http://billflow.test")
    page = await http.get(path)
    assert f"{path}/statement.pdf" in page.text
    response = await http.get(f"{path}/statement.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = _pdf_text(response.content)
    assert invoice.number.encode() in text and b"Balance due: 385.00 GBP" in text
    assert (await http.get("/p/nope/statement.pdf")).status_code == 404


async def test_credit_notes_are_listed_and_downloadable_only_by_their_client(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    from billflow.services.corrections import credit_invoice

    client, other = make_client(), make_client()
    invoice = await _issued_for(time_env, worker, db, client)
    other_invoice = await _issued_for(time_env, worker, db, other)
    note = await credit_invoice(
        db, time_env.client, settings, number=invoice.number, amount_minor=1500, reason="late start", request_id="a"
    )
    other_note = await credit_invoice(
        db, time_env.client, settings, number=other_invoice.number, amount_minor=500, reason="other", request_id="b"
    )
    issued = await portal.issue_link(db, settings, external_id=client.external_id)
    path = issued.url.removeprefix("http://billflow.test")

    page = await http.get(path)
    assert page.status_code == 200
    assert note.number in page.text and "late start" in page.text and "15.00" in page.text
    assert other_note.number not in page.text
    download = await http.get(f"{path}/credit-notes/{note.number}")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert download.content.startswith(b"%PDF-") and note.number in download.headers["content-disposition"]
    # Another client's credit note, a number that does not exist and a revoked link are all a 404.
    assert (await http.get(f"{path}/credit-notes/{other_note.number}")).status_code == 404
    assert (await http.get(f"{path}/credit-notes/CN-1999-000001")).status_code == 404
    statement = _pdf_text((await http.get(f"{path}/statement.pdf")).content)
    assert note.number.encode() in statement and other_note.number.encode() not in statement
    assert b"Balance due: 370.00 GBP" in statement  # 385.00 less the 15.00 credited
    assert await portal.revoke_link(db, link_id=issued.link_id)
    assert (await http.get(f"{path}/credit-notes/{note.number}")).status_code == 404


async def test_a_workspaces_client_portal_and_its_email_name_that_workspace(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    from tests.workspaces.support import make_workspace

    ws = await make_workspace(db)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=ws.id)
    issued = await portal.issue_link(db, settings, external_id=await _external_id(db, invoice.client_id))
    async with db.session() as session:
        message = await messages_repo.get_message(session, message_id=issued.message_id)
    assert message is not None and ws.name in message.body_text
    page = await http.get(issued.url.removeprefix("http://billflow.test"))
    assert page.status_code == 200 and invoice.number in page.text
    assert ws.name in page.text and settings.business_name not in page.text
