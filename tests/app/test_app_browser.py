"""The staff app in a real headless browser (Debian's chromium driven by Playwright): sign in, find an overdue
invoice, pause its reminders, record a bank transfer, create a client and an invoice, preview a policy; a viewer
cannot act; a form without its CSRF token is refused. Screenshots of each page go to BILLFLOW_SCREENSHOT_DIR."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.services import clients as clients_service
from billflow.services import invoice_runs, invoice_views
from billflow.services.invoicing import issue_invoice
from models.api_keys import ApiRole
from models.clients import Client
from models.invoices import Invoice
from tests.app.support import PASSWORD, make_user
from tests.factories import make_booking

SCREENSHOTS = Path(os.environ.get("BILLFLOW_SCREENSHOT_DIR", "/tmp/billflow-screenshots"))
PHONE = {"width": 360, "height": 780}


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Staff actions here are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    await context.close()
    assert errors == [], errors  # no script error on any page


async def shoot(page: Page, name: str) -> None:
    """A desktop and a 360 px screenshot; nothing may overflow sideways on the phone."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    size = page.viewport_size
    await page.set_viewport_size(PHONE)
    await page.wait_for_timeout(300)  # plotly redraws its charts on resize
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    assert size is not None
    await page.set_viewport_size(size)
    assert overflow <= 0, f"{name}: {overflow}px wider than a 360 px phone"


async def sign_in(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/app/login")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()


async def overdue_invoice(db: Database, env: WorkflowEnvironment, settings: Settings) -> str:
    """A real invoice workflow whose due date has passed: issued three days ago, due on issue (the dev server's
    clock cannot be moved on; staff actions are Updates, which the time-skipping server lacks)."""
    booking = make_booking(payment_terms=timedelta(days=0), issued_at=datetime.now(UTC) - timedelta(days=3))
    async with db.session() as session:
        handle = await clients_service.start_client_invoice(
            session, env.client, booking, task_queue=settings.task_queue
        )
    for _ in range(200):
        if await invoice_runs.query_state(env.client, handle.id) is not None:
            break
        await asyncio.sleep(0.05)
    for _ in range(400):
        async with db.session() as session:
            invoice = await invoices_repo.get_invoice(session, workflow_id=handle.id)
        if invoice is not None and invoice.status == "overdue":
            return invoice.number
        await asyncio.sleep(0.05)
    raise AssertionError("the invoice did not turn overdue")


async def recorded_overdue(db: Database, *, days_late: int, currency: str, total: int) -> str:
    """An invoice recorded as overdue long ago (rows only, no workflow): fills the aging buckets."""
    today = datetime.now(UTC).date()
    suffix = uuid.uuid4().hex[:8]
    due = today - timedelta(days=days_late)
    async with db.session() as session:
        client = Client(external_id=f"aged-{suffix}", name=f"Aged Client {suffix[:4]}", email=f"a-{suffix}@example.com")
        session.add(client)
        await session.flush()
        assert client.id is not None
        invoice = Invoice(
            number=f"AGED-{suffix}", source_key=f"test:aged:{suffix}", workflow_id=f"invoice-aged-{suffix}",
            client_id=client.id, currency=currency, subtotal_minor=total, total_minor=total, status="overdue",
            issue_date=due - timedelta(days=14), due_date=due,
            due_at=datetime.combine(due, datetime.min.time(), tzinfo=UTC), timezone="UTC",
            public_token=uuid.uuid4().hex, overdue_at=datetime.combine(due, datetime.min.time(), tzinfo=UTC),
        )  # fmt: skip
        session.add(invoice)
    return invoice.number


async def test_staff_find_an_overdue_invoice_pause_it_and_record_a_bank_transfer(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
) -> None:
    for days, currency, total in ((12, "GBP", 48_000), (45, "GBP", 125_000), (75, "EUR", 90_000), (130, "EUR", 33_000)):
        await recorded_overdue(db, days_late=days, currency=currency, total=total)
    number = await overdue_invoice(db, temporal_env, api_settings)
    staff = await make_user(db, ApiRole.staff)
    await sign_in(page, live_server, staff.email)
    await expect(page.locator("#attention")).to_contain_text(number)
    # plotly.js (4.6 MB, parsed once per page) drew the chart; generous under a loaded CI machine.
    await expect(page.locator("#aging-chart .main-svg").first).to_be_attached(timeout=30_000)
    await shoot(page, "overview")

    await page.get_by_role("link", name="Invoices", exact=True).click()
    await page.locator("input[name=status][value=overdue]").check()
    await page.get_by_label("Sort").select_option("due")
    await page.get_by_role("button", name="Apply").click()
    row = page.locator(f"#invoice-table tr[data-number='{number}']")
    await expect(row).to_contain_text("overdue")
    await shoot(page, "invoices")

    await row.get_by_role("link", name=number).click()
    await expect(page.get_by_role("heading", name=number)).to_be_visible()
    await page.locator("#act-pause summary").click()
    await page.get_by_label(f"Yes, pause reminders for {number}").check()
    await page.get_by_role("button", name="Pause reminders").click()
    await expect(page.locator(".note.ok")).to_contain_text(f"{number}: Reminders paused")
    await expect(page.locator("[data-testid=live]")).to_contain_text("reminders paused")
    await expect(page.locator("#act-resume")).to_be_visible()  # the pause turned into a resume

    await page.locator("#act-mark-paid summary").click()
    await page.get_by_label("Method").select_option("bank_transfer")
    await page.get_by_label("Note").first.fill("BACS ref 4411")
    await page.get_by_label(f"Yes, record this payment on {number}").check()
    await page.get_by_role("button", name="Record payment").click()
    await expect(page.locator(".note.ok")).to_contain_text(f"{number}: Payment recorded")
    await expect(page.locator("#invoice-status [data-testid=status]")).to_have_text("paid")
    await expect(page.locator("#payments-table")).to_contain_text("bank transfer")
    await expect(page.locator("#timeline")).to_contain_text("paid")
    await shoot(page, "invoice")


async def test_the_live_state_arrives_after_the_page_when_the_run_is_slow_to_answer(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page never waits for the run beyond PAGE_LIVE_WAIT: here it waits not at all, and the browser fetches
    the Workflow section afterwards."""
    number = await overdue_invoice(db, temporal_env, api_settings)
    monkeypatch.setattr(invoice_views, "PAGE_LIVE_WAIT", timedelta(0))
    await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
    response = await page.goto(f"{live_server}/app/invoices/{number}")
    assert response is not None and "live-pending" in await response.text()  # the server did not wait
    await expect(page.locator("[data-testid=live]")).to_contain_text("Live state: overdue")
    await expect(page.locator("[data-testid=live-pending]")).to_have_count(0)


async def test_with_no_worker_the_invoice_page_answers_at_once_and_says_the_run_is_silent(
    page: Page, live_server: str, db: Database, temporal_env: WorkflowEnvironment, api_settings: Settings
) -> None:
    booking = make_booking(issued_at=datetime.now(UTC))
    quiet = f"nobody-polls-{uuid.uuid4().hex[:6]}"  # the run exists, and its status query waits for a worker
    handle = await invoice_runs.start_invoice(temporal_env.client, booking, task_queue=quiet)
    async with db.session() as session:
        invoice = await issue_invoice(session, booking=booking, workflow_id=handle.id)
    await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
    served = await page.goto(f"{live_server}/app/invoices/{invoice.number}")
    # The page was answered before the run's state (its query waits up to 2 s for a worker): it says it is still
    # asking, and its script asks again (a time bound here failed on a loaded CI machine: 1.57 s of 1.5).
    assert served is not None and 'data-testid="live-pending"' in await served.text()
    await expect(page.get_by_role("heading", name=invoice.number)).to_be_visible()
    await expect(page.locator("[data-testid=live-unanswered]")).to_be_visible(timeout=15_000)


async def test_a_refused_action_shows_its_reason(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
) -> None:
    number = await overdue_invoice(db, temporal_env, api_settings)
    await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
    await page.goto(f"{live_server}/app/invoices/{number}")
    await page.locator("#act-mark-paid summary").click()
    await page.get_by_label("Amount (GBP)").fill("99999")
    await page.get_by_label(f"Yes, record this payment on {number}").check()
    await page.get_by_role("button", name="Record payment").click()
    await expect(page.locator(".note.error")).to_contain_text("refused: amount 9999900 exceeds the balance")
    # A typing mistake is shown next to its field, and nothing is sent.
    await page.locator("#act-mark-paid summary").click()
    await page.get_by_label("Amount (GBP)").fill("12.345")
    await page.get_by_label(f"Yes, record this payment on {number}").check()
    await page.get_by_role("button", name="Record payment").click()
    await expect(page.locator("[data-error-for='mark-paid.amount']")).to_contain_text("at most 2 decimals")


async def test_staff_create_a_client_and_an_invoice_by_hand(
    page: Page, live_server: str, db: Database, worker: Worker
) -> None:
    await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
    await page.goto(f"{live_server}/app/invoices/new")
    suffix = uuid.uuid4().hex[:6]
    await page.get_by_label("Currency").fill("")
    await page.get_by_role("button", name="Create and send the invoice").click()  # browser validation: required
    await expect(page).to_have_url(f"{live_server}/app/invoices/new")
    await page.get_by_label("Currency").fill("EUR")
    await page.get_by_label("New client's name").fill(f"Studio Nord {suffix}")
    await page.get_by_label("New client's email").fill(f"nord-{suffix}@example.com")
    await page.get_by_label("Time zone").fill("Europe/Berlin")
    await page.locator("#l1-desc").fill("Brand workshop")
    await page.locator("#l1-qty").fill("2")
    await page.locator("#l1-price").fill("450.00")
    await page.locator("#l1-tax").fill("19")
    await shoot(page, "invoice-new")
    await page.get_by_role("button", name="Create and send the invoice").click()
    await expect(page.locator(".note.ok")).to_contain_text(f"created for Studio Nord {suffix}")
    await expect(page.locator("[data-testid=balance]")).to_have_text("€1,071.00")  # 2 x 450 + 19 % tax
    await expect(page.locator("#invoice-status [data-testid=status]")).to_have_text("open")
    # The new client is in the client list, with the invoice's balance; staff add a note to its timeline.
    await page.get_by_role("link", name="Clients", exact=True).click()
    await page.get_by_role("searchbox", name="Search").fill(f"Studio Nord {suffix}")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#clients-table")).to_contain_text("€1,071.00")
    await page.get_by_role("link", name=f"Studio Nord {suffix}").click()
    await page.get_by_label("Note (on the client's timeline)").fill("Asked for a PO number")
    await page.get_by_role("button", name="Add note").click()
    await expect(page.locator("#client-timeline")).to_contain_text("Asked for a PO number")
    await shoot(page, "client")


async def test_changing_the_policy_changes_the_preview(page: Page, live_server: str, db: Database) -> None:
    await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
    await page.goto(f"{live_server}/app/settings")
    await expect(page.locator("#preview li")).to_have_count(5)
    await page.get_by_label("Reminder days, relative to the due date").fill("-1, 0, 5")
    await page.get_by_label("Send at (hour, client's local time)").fill("8")
    await page.get_by_label("Sample client's time zone").fill("America/New_York")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#preview li")).to_have_count(3)
    await expect(page.locator("#preview li").nth(2)).to_contain_text("08:00 America/New_York")
    await shoot(page, "policy")
    await page.get_by_label("Reminder days, relative to the due date").fill("0, 0")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("[data-error-for=days]")).to_contain_text("list each day once")
    await page.get_by_role("link", name="Reports", exact=True).click()
    await expect(page.locator("#report-table")).to_be_visible()
    await shoot(page, "reports")


async def test_a_viewer_sees_but_cannot_act(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
) -> None:
    number = await overdue_invoice(db, temporal_env, api_settings)
    await sign_in(page, live_server, (await make_user(db, ApiRole.viewer)).email)
    await page.goto(f"{live_server}/app/invoices/{number}")
    await expect(page.get_by_role("heading", name=number)).to_be_visible()
    await expect(page.locator("#act-mark-paid")).to_have_count(0)
    await expect(page.get_by_role("link", name="New invoice")).to_have_count(0)
    # Posting the form anyway (with a valid CSRF token) is refused for the role.
    token = await page.locator("input[name=csrftoken]").first.get_attribute("value")
    response = await page.request.post(
        f"{live_server}/app/invoices/{number}/act/mark-paid",
        form={"csrftoken": token or "", "confirm": "yes", "method": "cash"},
    )
    assert response.status == 403 and "needs staff" in await response.text()


async def test_a_form_without_its_csrf_token_is_refused(page: Page, live_server: str, db: Database) -> None:
    admin = await make_user(db, ApiRole.admin)
    await sign_in(page, live_server, admin.email)
    await page.goto(f"{live_server}/app/settings/api-keys")
    await shoot(page, "api-keys")
    await page.get_by_label("Who or what uses it").fill("forged")
    await page.evaluate("document.querySelectorAll('form input[name=csrftoken]').forEach(e => e.remove())")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("heading", name="This form could not be accepted")).to_be_visible()
    await page.goto(f"{live_server}/app/settings/api-keys")
    await expect(page.locator("#keys-table")).not_to_contain_text("forged")
    await page.goto(f"{live_server}/app/settings/users")
    await shoot(page, "users")


async def test_sign_in_page(page: Page, live_server: str) -> None:
    await page.goto(f"{live_server}/app/invoices")
    await expect(page).to_have_url(f"{live_server}/app/login?next=/app/invoices")
    await page.get_by_label("Email address").fill("nobody@example.com")
    await page.get_by_label("Password").fill("wrong password here")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("[data-testid=login-error]")).to_contain_text("wrong email address or password")
    await shoot(page, "login")


async def test_signing_in_and_acting_work_from_the_keyboard(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
) -> None:
    number = await overdue_invoice(db, temporal_env, api_settings)
    staff = await make_user(db, ApiRole.staff)
    await page.goto(f"{live_server}/app/login?next=/app/invoices/{number}")
    await expect(page.get_by_label("Email address")).to_be_focused()  # autofocus: typing goes there
    await page.keyboard.type(staff.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=number)).to_be_visible()
    await page.locator("#act-pause summary").focus()
    await page.keyboard.press("Enter")  # opens the disclosure
    await page.get_by_label(f"Yes, pause reminders for {number}").focus()
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator(".note.ok")).to_contain_text(f"{number}: Reminders paused")


async def test_staff_refund_a_bank_transfer_and_the_invoice_is_owed_again(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
) -> None:
    number = await overdue_invoice(db, temporal_env, api_settings)
    await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
    await page.goto(f"{live_server}/app/invoices/{number}")
    await expect(page.locator("#act-refund")).to_have_count(0)  # nothing paid, nothing to refund
    await page.locator("#act-mark-paid summary").click()
    await page.get_by_label(f"Yes, record this payment on {number}").check()
    await page.get_by_role("button", name="Record payment").click()
    await expect(page.locator("#invoice-status [data-testid=status]")).to_have_text("paid")

    # Too much is refused next to the amount, and nothing is refunded.
    await page.locator("#act-refund summary").click()
    await page.get_by_label("Amount to refund (GBP)").fill("100000")
    await page.get_by_label("Reason").last.fill("hours billed twice")
    await page.get_by_label(f"Yes, refund this payment of {number}").check()
    await page.get_by_role("button", name="Refund", exact=True).click()
    await expect(page.locator("[data-error-for='refund.amount']")).to_contain_text("left to refund")
    await expect(page.locator("#payments-table")).not_to_contain_text("refund")

    await page.get_by_label("Amount to refund (GBP)").fill("50")
    await page.get_by_label("The client owes it again").check()
    await page.get_by_label(f"Yes, refund this payment of {number}").check()
    await shoot(page, "invoice-refund-form")
    await page.get_by_role("button", name="Refund", exact=True).click()
    await expect(page.locator(".note.ok")).to_contain_text(f"{number}: Refund recorded: £50.00 recorded as refunded")
    await expect(page.locator("#invoice-status [data-testid=status]")).not_to_have_text("paid")
    await expect(page.locator("[data-testid=balance]")).to_have_text("£50.00")
    await expect(page.locator("#payments-table")).to_contain_text("refund")
    await expect(page.locator("#timeline")).to_contain_text("Refund of £50.00")
    await shoot(page, "invoice-refund")


async def test_staff_change_a_subscription_plan_from_the_catalog(
    page: Page,
    live_server: str,
    db: Database,
    temporal_env: WorkflowEnvironment,
    worker: Worker,
    api_settings: Settings,
) -> None:
    from billflow.runs import subscriptions as subscription_runs
    from billflow.services import catalog as catalog_service
    from models.service_catalog import CatalogEntryIn
    from tests.subscriptions.support import make_subscription, terminate_all

    start = (await temporal_env.get_current_time()).date()
    view = await subscription_runs.create_and_start(
        db, temporal_env.client, make_subscription(start_date=start), task_queue=api_settings.task_queue
    )
    await catalog_service.add_entry(
        db,
        CatalogEntryIn(
            event_type=f"retainer-xl-{uuid.uuid4().hex[:6]}",
            service_name="Retainer XL",
            unit_price_minor=25_000,
            currency="USD",
        ),
    )
    try:
        await sign_in(page, live_server, (await make_user(db, ApiRole.staff)).email)
        await page.goto(f"{live_server}/app/subscriptions/{view.subscription_id}")
        await page.locator("#sub-change summary").click()
        await page.get_by_label("Service 1").select_option(label="Retainer XL · $250.00")
        await page.get_by_label("Quantity 1").fill("1.5")
        await page.get_by_label(f"Yes, change the plan of {view.subscription_id}").check()
        await shoot(page, "subscription-change-plan")
        await page.get_by_role("button", name="Change plan").click()
        await expect(page.locator(".note.ok")).to_contain_text("Plan changed from the period starting")
        await expect(page.locator("main")).to_contain_text("Retainer XL · 1.5 \u00d7 $250.00")
        await shoot(page, "subscription")
    finally:
        await terminate_all(temporal_env.client, [view.workflow_id])
