"""Fixtures for the public pages: the app on an ASGI transport, a worker on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from tests.standins.fixtures import load_invoice, running_worker, start_and_wait_issued, web_client

__all__ = ["load_invoice", "start_and_wait_issued"]


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, db: Database, settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(time_env.client, db, settings) as running:
        yield running


@pytest.fixture
async def http(settings: Settings, db: Database, time_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(settings, db, time_env.client) as client:
        yield client
