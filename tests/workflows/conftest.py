"""A real worker (workflows, activities, PostgreSQL, local backends) on the time-skipping server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from worker import build_worker


@pytest.fixture
async def worker(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(time_env.client, db, settings, task_queue=task_queue) as running:
        yield running
