"""A schema-driven fuzz run (schemathesis) of the catalog and Cal.com webhook operations: never a 5xx."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.web.app import create_app
from starter.api import build_server

PREFIXES = ("/v1/catalog", "/v1/integrations/calcom")


@pytest.fixture
async def served(api_settings: Settings, db: Database, env: WorkflowEnvironment) -> AsyncIterator[tuple[dict, str]]:
    """The app served by uvicorn on a free port in the test's event loop: (OpenAPI document, base URL)."""
    # Without the failed-authentication throttle: the fuzzer's unsigned deliveries would turn the rest into 429s.
    app = create_app(api_settings.model_copy(update={"auth_failure_limit": ""}), db, env.client)
    server = build_server(app, host="127.0.0.1", port=0, log_level="warning")
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield app.openapi(), f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, timeout=10)


def fuzz(document: dict, base_url: str, headers: dict[str, str]) -> tuple[list[str], Counter[int]]:
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(PREFIXES):
            continue

        @given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        run()
    return failures, statuses


async def test_fuzzing_catalog_and_calcom_operations_finds_no_server_error(
    served: tuple[dict, str], worker: Worker, staff_headers: dict[str, str]
) -> None:
    document, base_url = served
    failures, statuses = await asyncio.to_thread(fuzz, document, base_url, staff_headers)
    assert failures == []
    assert statuses[200] and statuses[401] and statuses[422], statuses
