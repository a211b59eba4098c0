"""The Temporal UI, pointed at billflow's codec server, shows a run's decrypted input (headless Chromium).

The dev server is started as `billflow dev` starts it: `--ui-codec-endpoint` with the path-key endpoint.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys
from billflow.services.invoice_runs import start_invoice
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.workflow_io import BookingIn
from tests.codec.support import CLIENT_EMAIL, CLIENT_NAME, LINE_DESCRIPTION, personal_booking
from tests.conftest import TEST_CONVERTER, bundled_binary
from tests.standins.server import serve
from tests.workflows.support import issued
from worker import build_worker
from workflows.search_attributes import ALL_KEYS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("BILLFLOW_SCREENSHOTS", "/tmp/billflow-screenshots"))
pytestmark = [
    pytest.mark.devserver,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def ui_with_a_run(
    dev_env: WorkflowEnvironment,
    db: Database,
    database_url: str,
    settings: Settings,
    task_queue: str,
    codec_endpoint: Callable[[str], str | None],
) -> AsyncIterator[tuple[str, str, BookingIn]]:
    """The app served on a free port and a dev server whose UI is on another, with one issued invoice run;
    yields (UI base URL, app base URL, booking). `codec_endpoint(app_base)` is the UI's configured endpoint."""
    ui_port = _free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    served_db = Database(database_url, pool_size=2)  # the served app's own engine, on the server thread's loop
    app = create_app(settings.model_copy(update={"codec_cors_origins": [ui]}), served_db, dev_env.client)
    with serve(app) as base:
        endpoint = codec_endpoint(base)
        env = await WorkflowEnvironment.start_local(
            data_converter=TEST_CONVERTER,
            dev_server_existing_path=bundled_binary("temporal"),
            search_attributes=ALL_KEYS,
            ui=True,
            ui_port=ui_port,
            dev_server_extra_args=["--ui-codec-endpoint", endpoint] if endpoint else [],
        )
        try:
            data = personal_booking()
            async with build_worker(env.client, db, settings, task_queue=task_queue):
                handle = await start_invoice(env.client, data, task_queue=task_queue)
                await issued(handle)
            yield ui, base, data
        finally:
            await env.shutdown()
    await served_db.dispose()


async def test_the_temporal_ui_shows_the_decrypted_input(
    dev_env: WorkflowEnvironment, db: Database, database_url: str, settings: Settings, task_queue: str
) -> None:
    """As `billflow dev` wires it: the endpoint carries a staff key of its own."""
    from playwright.async_api import async_playwright

    token = (await api_keys.create_key(db, api_keys.NewApiKey(name="ui", role=ApiRole.staff))).token
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test, once)
    run = ui_with_a_run(dev_env, db, database_url, settings, task_queue, lambda base: f"{base}/codec/k/{token}")
    async with run as (ui, _base, data), async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1400})
            await page.goto(f"{ui}/namespaces/default/workflows/{data.workflow_id}")
            await page.get_by_text(CLIENT_EMAIL).first.wait_for(timeout=30_000)
            await page.screenshot(path=str(SHOTS / "temporal-ui-decrypted.png"), full_page=True)
            text = await page.content()
            assert CLIENT_NAME in text and LINE_DESCRIPTION in text
        finally:
            await browser.close()


async def test_a_signed_in_operator_reads_runs_with_credentials_included(
    dev_env: WorkflowEnvironment, db: Database, database_url: str, settings: Settings, task_queue: str
) -> None:
    """As in docker compose or Temporal Cloud: the UI sends the sign-in cookie ("include cross-origin
    credentials"); before signing in it shows only ciphertext."""
    from playwright.async_api import async_playwright

    token = (await api_keys.create_key(db, api_keys.NewApiKey(name="operator", role=ApiRole.staff))).token
    async with ui_with_a_run(dev_env, db, database_url, settings, task_queue, lambda base: None) as (ui, base, data):
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 1400})
                run_page = f"{ui}/namespaces/default/workflows/{data.workflow_id}"
                await page.goto(run_page)
                # The UI's own codec settings (what its "Codec Server" dialog stores in the browser).
                settings_js = (
                    "([endpoint]) => { localStorage.setItem('endpoint', JSON.stringify(endpoint));"
                    " localStorage.setItem('includeCredentials', 'true');"
                    " localStorage.setItem('overrideRemoteCodecConfiguration', 'true'); }"
                )
                await page.evaluate(settings_js, [f"{base}/codec"])
                await page.reload()
                # Not signed in: the codec server answers 401 and the UI shows the ciphertext.
                await page.get_by_text("Codec Server could not connect").first.wait_for(
                    state="attached", timeout=30_000
                )
                assert CLIENT_EMAIL not in await page.content()

                await page.goto(f"{base}/codec/session")
                await page.fill("input[name=token]", token)
                await page.click("button")
                await page.wait_for_load_state()
                await page.goto(run_page)
                await page.get_by_text(CLIENT_EMAIL).first.wait_for(timeout=30_000)
                await page.screenshot(path=str(SHOTS / "temporal-ui-signed-in.png"), full_page=True)
                assert CLIENT_NAME in await page.content()
            finally:
                await browser.close()
