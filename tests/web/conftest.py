"""Fixtures for the public pages: the app on an ASGI transport, a worker on the time-skipping server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import start_invoice
from billflow.web.app import create_app
from models.invoices import Invoice
from models.workflow_io import InvoiceState
from tests.factories import make_booking
from worker import build_worker
from workflows.invoice import InvoiceWorkflow


@asynccontextmanager
async def web_client(settings: Settings, db: Database, temporal: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db, temporal)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billflow.test") as http:
        yield http


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, db: Database, settings: Settings) -> AsyncIterator[Worker]:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with build_worker(time_env.client, db, settings, task_queue=queue) as running:
        yield running


@pytest.fixture
async def http(settings: Settings, db: Database, time_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(settings, db, time_env.client) as client:
        yield client


async def start_and_wait_issued(client: Client, worker: Worker, db: Database, **booking: Any) -> Invoice:
    """Start an invoice workflow and wait until the invoice row exists and its issue email went out."""
    handle: WorkflowHandle = await start_invoice(client, make_booking(**booking), task_queue=worker.task_queue)
    for _ in range(400):
        state: InvoiceState | None = await handle.query(InvoiceWorkflow.status)
        if state is not None and state.issued_email_sent:
            return await load_invoice(db, state.invoice_id)
        import asyncio

        await asyncio.sleep(0.025)
    raise AssertionError("invoice was not issued in time")


async def load_invoice(db: Database, invoice_id: int) -> Invoice:
    from billflow.repositories import invoices as invoices_repo

    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
    assert invoice is not None
    return invoice
