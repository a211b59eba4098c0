"""The app on real PostgreSQL and the time-skipping Temporal server, with the real worker, driven in process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys, integrations
from billflow.web.app import create_app
from models.api_keys import ApiRole
from worker import build_worker


@pytest.fixture
def api_settings(settings: Settings, task_queue: str) -> Settings:
    return settings.model_copy(update={"task_queue": task_queue})


@pytest.fixture
def env(time_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """The Temporal environment of the app and worker (a test module may override it with its own server)."""
    return time_env


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, db: Database, api_settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(env.client, db, api_settings, task_queue=task_queue) as running:
        yield running


@pytest.fixture
async def http(api_settings: Settings, db: Database, env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, db, env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as client:
        yield client


@pytest.fixture
async def calcom(db: Database) -> tuple[str, str]:
    """A fresh integration for one Cal.com webhook: (name, secret)."""
    name = f"calcom-{uuid.uuid4().hex[:8]}"
    created = await integrations.create_integration(db, integrations.NewIntegration(name=name))
    return created.name, created.secret


@pytest.fixture
async def staff_headers(db: Database) -> dict[str, str]:
    key = await api_keys.create_key(db, api_keys.NewApiKey(name="calcom-tests", role=ApiRole.staff))
    return {"Authorization": f"Bearer {key.token}"}
