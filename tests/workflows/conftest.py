"""A real worker (workflows, activities, PostgreSQL, local backends) on the time-skipping server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.temporal import ensure_search_attributes
from tests.conftest import TEST_CONVERTER, bundled_binary
from worker import build_worker


@pytest.fixture
async def worker(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(time_env.client, db, settings, task_queue=task_queue) as running:
        yield running


@pytest.fixture
async def own_env(db: Database, settings: Settings, task_queue: str) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this test's own, with a worker on `task_queue`: its clock starts at the real
    time (the shared server's clock has been moved on by other tests), and whatever this test does to the
    server cannot stall the others."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER, test_server_existing_path=bundled_binary("temporal-test-server")
    )
    try:
        await ensure_search_attributes(env.client)
        async with build_worker(env.client, db, settings, task_queue=task_queue):
            yield env
    finally:
        await env.shutdown()
