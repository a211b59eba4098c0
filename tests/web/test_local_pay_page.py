"""The zero-setup pay page: shows the balance, pays it once per form, then lands on the invoice page."""

from __future__ import annotations

import asyncio
import re

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import payments as payments_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services.invoice_runs import query_state
from models.enums import InvoiceStatus
from tests.web.conftest import load_invoice, start_and_wait_issued
from tests.workspaces.support import make_workspace

NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')


async def _nonce(http: httpx.AsyncClient, token: str) -> str:
    page = await http.get(f"/pay/{token}")
    assert page.status_code == 200, page.text
    match = NONCE.search(page.text)
    assert match, "the pay form carries a nonce"
    return match.group(1)


async def test_pay_page_shows_balance_and_pay_button(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    page = await http.get(f"/pay/{invoice.public_token}")
    assert page.status_code == 200
    assert "Pay now" in page.text
    assert "£385.00" in page.text  # 2 x 150.00 + 20 % tax + 25.00 travel
    assert invoice.number in page.text


async def test_pay_page_says_plainly_it_is_a_demo(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    page = await http.get(f"/pay/{invoice.public_token}")
    assert 'data-testid="demo-notice"' in page.text
    assert "Demo payment page: no money moves." in page.text


async def test_pay_now_records_the_balance_once_and_redirects_to_invoice_page(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    nonce = await _nonce(http, invoice.public_token)
    first, second = await asyncio.gather(
        http.post(f"/pay/{invoice.public_token}", data={"nonce": nonce}),
        http.post(f"/pay/{invoice.public_token}", data={"nonce": nonce}),
    )
    for response in (first, second):
        assert response.status_code == 303
        assert response.headers["location"] == f"/i/{invoice.public_token}"
    assert invoice.id is not None
    async with db.session() as session:
        payments = await payments_repo.list_payments(session, invoice_id=invoice.id)
    assert [(p.provider, p.provider_reference, p.amount_minor) for p in payments] == [("local", nonce, 38_500)]
    refreshed = await load_invoice(db, invoice.id)
    assert refreshed.status == InvoiceStatus.paid
    # a third submit of the same (now stale) form pays nothing more
    third = await http.post(f"/pay/{invoice.public_token}", data={"nonce": nonce})
    assert third.status_code == 303
    async with db.session() as session:
        assert len(await payments_repo.list_payments(session, invoice_id=invoice.id)) == 1
    paid_page = await http.get(f"/pay/{invoice.public_token}")
    assert "Already paid" in paid_page.text


async def test_amount_comes_from_the_database_not_the_request(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    nonce = await _nonce(http, invoice.public_token)
    response = await http.post(
        f"/pay/{invoice.public_token}", data={"nonce": nonce, "amount_minor": "1", "currency": "USD"}
    )
    assert response.status_code == 303
    assert invoice.id is not None
    async with db.session() as session:
        payments = await payments_repo.list_payments(session, invoice_id=invoice.id)
    assert [(p.amount_minor, p.currency) for p in payments] == [(38_500, "GBP")]


async def test_forged_nonce_pays_nothing(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    response = await http.post(f"/pay/{invoice.public_token}", data={"nonce": "ab" * 16})
    assert response.status_code == 303
    assert response.headers["location"].endswith("?stale=1")
    assert invoice.id is not None
    async with db.session() as session:
        assert await payments_repo.list_payments(session, invoice_id=invoice.id) == []


async def test_payment_for_closed_workflow_is_recorded_directly(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    nonce = await _nonce(http, invoice.public_token)
    await time_env.client.get_workflow_handle(invoice.workflow_id).terminate("test: workflow gone")
    response = await http.post(f"/pay/{invoice.public_token}", data={"nonce": nonce})
    assert response.status_code == 303
    refreshed = await load_invoice(db, invoice.id or 0)
    assert refreshed.status == InvoiceStatus.paid


async def test_unknown_token_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/pay/not-a-token")).status_code == 404
    assert (await http.get("/i/not-a-token")).status_code == 404
    assert (await http.post("/pay/not-a-token", data={"nonce": "ab" * 16})).status_code == 404


async def test_invoice_page_first_visit_records_viewed_once(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    assert invoice.viewed_at is None
    for _ in range(2):
        page = await http.get(f"/i/{invoice.public_token}")
        assert page.status_code == 200
        assert "Strategy session" in page.text and "Download PDF" in page.text
    refreshed = await load_invoice(db, invoice.id or 0)
    assert refreshed.viewed_at is not None
    async with db.session() as session:
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    assert [e.kind for e in events].count("invoice.viewed") == 1
    state = await query_state(time_env.client, invoice.workflow_id)
    assert state is not None and state.status is InvoiceStatus.open


async def test_invoice_pdf_downloads(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    response = await http.get(f"/i/{invoice.public_token}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


async def test_returning_from_checkout_shows_the_payment_is_being_confirmed(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    page = await http.get(f"/i/{invoice.public_token}?paid=1")
    assert 'data-testid="confirming"' in page.text
    assert 'data-testid="confirming"' not in (await http.get(f"/i/{invoice.public_token}")).text


async def test_a_workspaces_client_pages_name_that_workspace(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database, settings: Settings
) -> None:
    ws = await make_workspace(db)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=ws.id)
    for page in (f"/i/{invoice.public_token}", f"/pay/{invoice.public_token}"):
        shown = await http.get(page)
        assert shown.status_code == 200, shown.text
        assert ws.name in shown.text and settings.business_name not in shown.text
