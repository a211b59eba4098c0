"""The app on real PostgreSQL and the time-skipping Temporal server, with the real worker, driven in process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys
from billflow.web.app import create_app
from models.api_keys import ApiRole
from starter.api import build_server
from worker import build_worker


@pytest.fixture
def api_settings(settings: Settings, task_queue: str) -> Settings:
    """The session settings with this test's task queue, so the app starts workflows on the test's worker."""
    return settings.model_copy(update={"task_queue": task_queue})


@pytest.fixture
def temporal_env(time_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """The server the app and the worker use: the time-skipping one, unless a module that performs staff actions
    overrides this with `dev_env` (those actions are Workflow Updates, which the time-skipping server lacks)."""
    return time_env


@pytest.fixture
async def worker(
    temporal_env: WorkflowEnvironment, db: Database, api_settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(temporal_env.client, db, api_settings, task_queue=task_queue) as running:
        yield running


@pytest.fixture
def app(api_settings: Settings, db: Database, temporal_env: WorkflowEnvironment) -> FastAPI:
    return create_app(api_settings, db, temporal_env.client)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as client:
        yield client


KeyFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(db: Database) -> KeyFactory:
    async def make(role: ApiRole = ApiRole.staff, name: str = "test") -> str:
        return (await api_keys.create_key(db, api_keys.NewApiKey(name=name, role=role))).token

    return make


@pytest.fixture
async def staff_headers(make_key: KeyFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(ApiRole.staff)}"}


@pytest.fixture
async def viewer_headers(make_key: KeyFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(ApiRole.viewer)}"}


@pytest.fixture
async def integration(db: Database) -> tuple[str, str]:
    """A fresh integration: (name, secret)."""
    from billflow.services import integrations

    created = await integrations.create_integration(db, integrations.NewIntegration(name=f"cal-{uuid.uuid4().hex[:8]}"))
    return created.name, created.secret


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port in the test's event loop."""
    server = build_server(app, host="127.0.0.1", port=0, log_level="warning")
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, timeout=10)
