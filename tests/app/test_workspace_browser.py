"""A workspace's staff in a real browser: signed in, the header names their business and the invoice list holds
only their workspace's invoices (Debian's chromium; skipped without it, see tests/app/conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, expect

from billflow.config import Settings
from billflow.db import Database
from billflow.services import users
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.columns import DEFAULT_WORKSPACE_ID
from tests.app.support import PASSWORD
from tests.workspaces.support import make_invoice, make_workspace


@pytest.fixture
async def pages_server(settings: Settings, db: Database) -> AsyncIterator[str]:
    """The staff app alone (no page used here reaches Temporal) on a port the OS picked."""
    app: FastAPI = create_app(settings, db, None)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    await task


async def test_a_second_workspaces_user_sees_its_name_and_only_its_invoices(
    browser: Browser, pages_server: str, db: Database
) -> None:
    b = await make_workspace(db)
    assert b.id is not None
    invoice_a, _ = await make_invoice(db, workspace_id=DEFAULT_WORKSPACE_ID)
    invoice_b, _ = await make_invoice(db, workspace_id=b.id)
    email = f"ws-{uuid.uuid4().hex[:8]}@example.com"
    await users.create_user(db, users.NewUser(email=email, role=ApiRole.staff, workspace_id=b.id), password=PASSWORD)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(f"{pages_server}/app/login")
        await page.get_by_label("Email address").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await expect(page.get_by_test_id("workspace")).to_have_text(b.name)
        await page.get_by_role("link", name="Invoices", exact=True).first.click()
        await expect(page.locator(f'tr[data-number="{invoice_b.number}"]')).to_be_visible()
        await expect(page.locator(f'tr[data-number="{invoice_a.number}"]')).to_have_count(0)
        await page.goto(f"{pages_server}/app/invoices/{invoice_a.number}")
        await expect(page.get_by_text(f"no invoice numbered {invoice_a.number}")).to_be_visible()
    finally:
        await context.close()
