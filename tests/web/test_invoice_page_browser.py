"""The invoice page in a real headless browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.web.app import create_app
from tests.standins.fixtures import load_invoice, start_and_wait_issued
from tests.standins.server import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
# Where the screenshots go, for a human to look at (CI can keep them as artifacts).
SHOTS = Path(os.environ.get("BILLFLOW_SCREENSHOTS", "/tmp/billflow-screenshots"))


async def test_invoice_page_renders_professionally_and_records_the_view(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, database_url: str, settings: Settings
) -> None:
    from playwright.async_api import async_playwright

    invoice = await start_and_wait_issued(time_env.client, worker, db)
    # The served app gets its own engine: its connections live on the server thread's event loop.
    served_db = Database(database_url, pool_size=2)
    app = create_app(
        settings.model_copy(update={"business_name": "Northwind Design Studio"}), served_db, time_env.client
    )
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test, once)
    with serve(app) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 1000})
                response = await page.goto(f"{base}/i/{invoice.public_token}")
                assert response is not None and response.status == 200
                assert invoice.number in await page.title()
                assert (await page.text_content("[data-testid=total]") or "").strip() == "£385.00"
                assert (await page.text_content("[data-testid=status]") or "").strip() == "Open"
                pay = page.locator("[data-testid=pay]")
                assert await pay.is_visible()
                assert await pay.get_attribute("href") == f"/pay/{invoice.public_token}"
                assert await page.locator("table.lines:not([data-testid=tax-breakdown]) tbody tr").count() == 2
                await page.screenshot(path=str(SHOTS / "invoice-desktop.png"), full_page=True)

                pdf = await page.request.get(f"{base}/i/{invoice.public_token}/pdf")
                assert pdf.ok and pdf.headers["content-type"] == "application/pdf"

                # Phones: nothing overflows sideways, the Pay button stays on screen.
                await page.set_viewport_size({"width": 390, "height": 844})
                await page.reload()
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0
                spill = await page.evaluate(
                    "document.querySelector('table.lines').getBoundingClientRect().right"
                    " - document.querySelector('.card').getBoundingClientRect().right"
                )
                assert spill <= 0, "the lines table must stay inside the card"
                box = await pay.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
                await page.screenshot(path=str(SHOTS / "invoice-mobile.png"), full_page=True)
            finally:
                await browser.close()
    await served_db.dispose()
    refreshed = await load_invoice(db, invoice.id)
    assert refreshed.viewed_at is not None


async def test_local_pay_page_pays_in_the_browser(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, database_url: str, settings: Settings
) -> None:
    from playwright.async_api import async_playwright

    invoice = await start_and_wait_issued(time_env.client, worker, db)
    served_db = Database(database_url, pool_size=2)
    app = create_app(
        settings.model_copy(update={"business_name": "Northwind Design Studio"}), served_db, time_env.client
    )
    with serve(app) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 900})
                await page.goto(f"{base}/pay/{invoice.public_token}")
                assert (await page.text_content("[data-testid=amount]") or "").strip() == "£385.00"
                await page.screenshot(path=str(SHOTS / "pay-local.png"), full_page=True)
                await page.click("[data-testid=pay-now]")
                await page.wait_for_url(f"{base}/i/{invoice.public_token}")
                assert "Paid in full" in (await page.content())
                assert (await page.text_content("[data-testid=status]") or "").strip() == "Paid"
                await page.screenshot(path=str(SHOTS / "invoice-paid.png"), full_page=True)
            finally:
                await browser.close()
    await served_db.dispose()
