"""Pytest fixtures for the stand-ins and the invoice helpers shared by tests/web, tests/payments and tests/email.

Import the fixtures into a conftest.py: `from tests.standins.fixtures import stripe_api, sendgrid_api  # noqa`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.services.invoice_runs import start_invoice
from billflow.web.app import create_app
from models.invoices import Invoice
from models.workflow_io import InvoiceState
from tests.factories import make_booking
from tests.standins.sendgrid_api import SendGridStandIn
from tests.standins.server import serve
from tests.standins.stripe_api import StripeStandIn
from worker import build_worker
from workflows.invoice import InvoiceWorkflow


@pytest.fixture
def stripe_api() -> Iterator[tuple[StripeStandIn, str]]:
    standin = StripeStandIn()
    with serve(standin.app) as url:
        yield standin, url


@pytest.fixture
def sendgrid_api() -> Iterator[tuple[SendGridStandIn, str]]:
    standin = SendGridStandIn()
    with serve(standin.app) as url:
        yield standin, url


@asynccontextmanager
async def web_client(settings: Settings, db: Database, temporal: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db, temporal)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billflow.test") as http:
        yield http


@asynccontextmanager
async def running_worker(client: Client, db: Database, settings: Settings) -> AsyncIterator[Worker]:
    async with build_worker(client, db, settings, task_queue=f"tq-{uuid.uuid4().hex[:8]}") as worker:
        yield worker


async def start_and_wait_issued(client: Client, worker: Worker, db: Database, **booking: Any) -> Invoice:
    """Start an invoice workflow and wait until the invoice exists and its issue email went out."""
    handle: WorkflowHandle = await start_invoice(client, make_booking(**booking), task_queue=worker.task_queue)
    for _ in range(800):
        state: InvoiceState | None = await handle.query(InvoiceWorkflow.status)
        if state is not None and state.issued_email_sent:
            return await load_invoice(db, state.invoice_id)
        await asyncio.sleep(0.025)
    raise AssertionError("invoice was not issued in time")


async def load_invoice(db: Database, invoice_id: int | None) -> Invoice:
    assert invoice_id is not None
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
    assert invoice is not None
    return invoice


async def wait_until(predicate: Any, *, timeout: float = 10.0) -> None:
    """Poll an async predicate (real time: workflow activities run in real time even on the test server)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
