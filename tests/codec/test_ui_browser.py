"""The Temporal UI, pointed at billflow's codec server, shows a run's decrypted input (headless Chromium).

The dev server is started as `billflow dev` starts it: `--ui-codec-endpoint` with the path-key endpoint.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys
from billflow.services.invoice_runs import start_invoice
from billflow.web.app import create_app
from models.api_keys import ApiRole
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


async def test_the_temporal_ui_shows_the_decrypted_input(
    dev_env: WorkflowEnvironment, db: Database, database_url: str, settings: Settings, task_queue: str
) -> None:
    from playwright.async_api import async_playwright

    ui_port = _free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    token = (await api_keys.create_key(db, api_keys.NewApiKey(name="ui", role=ApiRole.staff))).token
    served_db = Database(database_url, pool_size=2)  # the served app's own engine, on the server thread's loop
    app = create_app(settings.model_copy(update={"codec_cors_origins": [ui]}), served_db, dev_env.client)
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test, once)
    with serve(app) as base:
        env = await WorkflowEnvironment.start_local(
            data_converter=TEST_CONVERTER,
            dev_server_existing_path=bundled_binary("temporal"),
            search_attributes=ALL_KEYS,
            ui=True,
            ui_port=ui_port,
            dev_server_extra_args=["--ui-codec-endpoint", f"{base}/codec/k/{token}"],
        )
        try:
            data = personal_booking()
            async with build_worker(env.client, db, settings, task_queue=task_queue):
                handle = await start_invoice(env.client, data, task_queue=task_queue)
                await issued(handle)
            async with async_playwright() as pw:
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
        finally:
            await env.shutdown()
    await served_db.dispose()
