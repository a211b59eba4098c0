"""Settings > Business profile and Settings > Integrations in a real headless browser (Debian's chromium driven
by Playwright): a bad VAT id is shown next to its field, a good profile saves; a rotated secret is shown once and
the old one stops working. Screenshots (desktop and 360 px) go to BILLFLOW_SCREENSHOT_DIR."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from billflow.db import Database
from billflow.services import integrations
from models.api_keys import ApiRole
from tests.app.support import make_user, workspace_profile_kept
from tests.app.test_app_browser import page, shoot, sign_in  # noqa: F401  (the page fixture)


@pytest.fixture(autouse=True)
async def _no_profile_left(db: Database) -> AsyncIterator[None]:
    async with workspace_profile_kept(db):
        yield


async def test_a_bad_vat_id_is_shown_next_to_its_field_and_a_good_profile_saves(
    page: Page,  # noqa: F811
    live_server: str,
    db: Database,
) -> None:
    await sign_in(page, live_server, (await make_user(db, ApiRole.admin)).email)
    await page.goto(f"{live_server}/app/settings")
    await page.get_by_role("link", name="Business profile").click()
    await expect(page.get_by_role("heading", name="Business profile")).to_be_visible()
    await page.get_by_label("Legal name").fill("Studio Nord GmbH")
    await page.get_by_label("Sender name").fill("Studio Nord")
    await page.get_by_label("Country").fill("DE")
    await page.get_by_label("VAT id").fill("DE123")
    await page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    await page.get_by_role("button", name="Save profile").click()
    vat = page.get_by_label("VAT id")
    await expect(vat).to_have_attribute("aria-invalid", "true")
    error = page.locator('[data-error-for="vat_id"]')
    await expect(error).to_contain_text("not a valid EU VAT id")
    # Next to its field: the message sits in the field's own block, right under the input it describes.
    assert await error.evaluate("e => e.closest('.field').querySelector('input').id") == "f-vat_id"
    await expect(page.locator('[data-error-for="iban"]')).to_have_count(0)
    await expect(page.get_by_label("Legal name")).to_have_value("Studio Nord GmbH")  # what was typed stays
    await shoot(page, "settings-profile-error")
    await vat.fill("DE 136 695 976")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_text("Business profile saved")).to_be_visible()
    await expect(page.get_by_label("VAT id")).to_have_value("DE136695976")
    await shoot(page, "settings-profile")


async def test_rotating_a_secret_shows_the_new_one_once_and_refuses_the_old(
    page: Page,  # noqa: F811
    live_server: str,
    db: Database,
) -> None:
    name = f"book-{uuid.uuid4().hex[:6]}"
    await sign_in(page, live_server, (await make_user(db, ApiRole.admin)).email)
    await page.goto(f"{live_server}/app/settings/integrations")
    await page.get_by_label("New integration's name").fill(name)
    await page.get_by_role("button", name="Create").click()
    old_secret = await page.locator("#new-secret").input_value()
    assert old_secret.startswith("whsec_")
    await page.get_by_role("link", name=name).click()
    await expect(page.get_by_role("heading", name="Recent deliveries")).to_be_visible()
    await page.get_by_role("button", name="Rotate the secret").click()
    new_secret = await page.locator("#new-secret").input_value()
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    await shoot(page, "settings-integration")
    await page.reload()  # after POST-redirect-GET a reload re-GETs: shown once, and no second rotation
    await expect(page.get_by_role("heading", name="Recent deliveries")).to_be_visible()
    await expect(page.locator("#new-secret")).to_have_count(0)
    assert await integrations.secret_of(db, name) == new_secret
    body = b'{"id": "e1", "type": "booking.cancelled", "data": {"booking_id": "b1"}}'
    refused = await page.request.post(
        f"{live_server}/v1/events",
        data=body,
        headers={**integrations.signed_headers(name, old_secret, body), "Content-Type": "application/json"},
    )
    assert refused.status == 401 and "signature does not match" in await refused.text()
    await page.goto(f"{live_server}/app/settings/integrations")
    await shoot(page, "settings-integrations")
