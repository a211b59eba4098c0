"""The staff dashboard in a real headless browser: key entry, totals, aging chart, lists and a staff action."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from temporalio.worker import Worker

from billflow.db import Database
from models.api_keys import ApiRole
from models.clients import Client
from models.invoices import Invoice
from tests.api.conftest import KeyFactory
from tests.api.support import confirmed_event, post_signed

# Kept for a person to look at (and for CI artifacts); playwright creates the directory.
SCREENSHOTS = Path(os.environ.get("BILLFLOW_SCREENSHOT_DIR", "/tmp/billflow-screenshots"))


async def _long_overdue_invoice(db: Database, *, days_late: int, currency: str, total: int) -> str:
    """An invoice recorded as overdue long ago (written directly: no workflow needs to run for the list)."""
    today = datetime.now(UTC).date()
    suffix = uuid.uuid4().hex[:8]
    async with db.session() as session:
        client = Client(external_id=f"dash-{suffix}", name=f"Overdue Ltd {suffix}", email=f"o-{suffix}@example.com")
        session.add(client)
        await session.flush()
        assert client.id is not None
        due = today - timedelta(days=days_late)
        invoice = Invoice(
            number=f"DASH-{suffix}",
            source_key=f"test:dash:{suffix}",
            workflow_id=f"invoice-dash-{suffix}",
            client_id=client.id,
            currency=currency,
            subtotal_minor=total,
            total_minor=total,
            status="overdue",
            issue_date=due - timedelta(days=14),
            due_date=due,
            # the end of the due day, as issue_invoice stores it: days late count from then
            due_at=datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
            timezone="UTC",
            public_token=uuid.uuid4().hex,
            overdue_at=datetime.combine(due, datetime.min.time(), tzinfo=UTC),
        )
        session.add(invoice)
    return invoice.number


@pytest.fixture
async def page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "401" not in msg.text else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def test_dashboard_shows_receivables_and_applies_a_staff_action(
    page: Page,
    live_server: str,
    db: Database,
    http: httpx.AsyncClient,
    worker: Worker,
    integration: tuple[str, str],
    make_key: KeyFactory,
) -> None:
    overdue_number = await _long_overdue_invoice(db, days_late=120, currency="CHF", total=123_45)
    name, secret = integration
    booked = await post_signed(http, name, secret, confirmed_event(payment_terms_days=3))
    assert booked.status_code == 202, booked.text
    due_soon_number = booked.json()["invoice_number"]

    await page.goto(f"{live_server}/dashboard")
    await expect(page.locator("#status")).to_contain_text("Enter a staff API key")

    # A wrong key: a clear message, nothing shown.
    await page.fill("#api-key", "bf_wrong_key")
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#status")).to_contain_text("Could not load the dashboard")
    await expect(page.locator("#content")).to_be_hidden()

    await page.fill("#api-key", await make_key(ApiRole.staff))
    await page.click("#key-form button[type=submit]")
    overdue_row = page.locator(f"#overdue-table tr[data-number='{overdue_number}']")
    await expect(overdue_row).to_contain_text("120")
    await expect(overdue_row).to_contain_text("CHF")
    await expect(page.locator("#totals .card[data-currency='CHF']")).to_contain_text("overdue")
    await expect(page.locator("#aging-chart svg rect[data-currency='CHF'][data-bucket='over_90_minor']")).to_have_count(
        1
    )

    soon_row = page.locator(f"#due-soon-table tr[data-number='{due_soon_number}']")
    await expect(soon_row).to_be_visible()
    await soon_row.locator("button[data-action='pause-reminders']").click()
    await expect(page.locator("#status")).to_contain_text(f"{due_soon_number}: pause reminders done")
    await expect(soon_row.locator(".pill.paused")).to_be_visible()
    await expect(soon_row.locator("button[data-action='resume-reminders']")).to_be_visible()

    await page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_refused_action_shows_the_reason(
    page: Page,
    live_server: str,
    http: httpx.AsyncClient,
    worker: Worker,
    integration: tuple[str, str],
    make_key: KeyFactory,
    staff_headers: dict[str, str],
) -> None:
    name, secret = integration
    booked = await post_signed(http, name, secret, confirmed_event(payment_terms_days=2))
    number = booked.json()["invoice_number"]
    await page.goto(f"{live_server}/dashboard")
    await page.fill("#api-key", await make_key(ApiRole.staff))
    await page.click("#key-form button[type=submit]")
    row = page.locator(f"#due-soon-table tr[data-number='{number}']")
    await expect(row.locator("button[data-action='pause-reminders']")).to_be_visible()
    # Someone else pauses it meanwhile: the page's Pause button is now stale.
    assert (await http.post(f"/v1/invoices/{number}/pause-reminders", headers=staff_headers)).status_code == 200
    await row.locator("button[data-action='pause-reminders']").click()
    await expect(page.locator("#status")).to_contain_text(f"{number}: pause reminders refused (409)")
    await expect(page.locator("#status")).to_contain_text("already paused")
    await expect(row.locator("button[data-action='resume-reminders']")).to_be_visible()  # reloaded


async def test_the_key_lasts_for_the_tab_and_can_be_forgotten(
    page: Page, live_server: str, make_key: KeyFactory
) -> None:
    await page.goto(f"{live_server}/dashboard")
    await page.fill("#api-key", await make_key(ApiRole.viewer))
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#content")).to_be_visible()
    await page.reload()
    await expect(page.locator("#content")).to_be_visible()  # sessionStorage kept the key
    await page.click("#forget")
    await expect(page.locator("#content")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('billflow.staffKey')") is None


async def test_page_is_served_without_data_and_with_a_strict_policy(live_server: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{live_server}/dashboard")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "DASH-" not in response.text and "INV-" not in response.text
