"""The app served over real HTTP (uvicorn on a free port) for a real headless browser (Debian's chromium)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright

from tests.api.conftest import (  # noqa: F401  (re-exported fixtures)
    api_settings,
    app,
    http,
    integration,
    make_key,
    staff_headers,
    temporal_env,
    worker,
)

# Debian's package (apt-get install -y chromium): Playwright's own browser download cannot run here.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without the browser the page checks are skipped, saying how to get it (.ci/run installs it)."""
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason="chromium not installed (apt-get install chromium; .ci/run installs it)")
        for item in items:
            if "browser" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture
async def live_server(app: FastAPI) -> AsyncIterator[str]:  # noqa: F811  (the app fixture)
    """The app on 127.0.0.1 and a port the OS picked; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces a startup error
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()
