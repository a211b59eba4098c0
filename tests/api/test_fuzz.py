"""A schema-driven fuzz run (schemathesis) against the OpenAPI document: no input makes the app answer 5xx.

The app is served by uvicorn on a free port in the test's event loop (its database pool and Temporal client
live there); schemathesis generates and sends requests from a worker thread.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import Counter
from typing import Any, cast

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.web.app import create_app
from billflow.web.webhooks.booking_events import EVENT_EXAMPLES

# Bounded so the three runs stay short on a loaded machine; the booking-event and invoice operations get more.
EXAMPLES_PER_OPERATION = 12
DOCUMENT_EXAMPLES_PER_OPERATION = 5
VIEWER_EXAMPLES_PER_OPERATION = 4  # a viewer is refused every write: few examples show it


@pytest.fixture
def app(api_settings: Settings, db: Database, time_env: WorkflowEnvironment) -> FastAPI:
    """The app without the failed-authentication throttle: fuzzing sends many unsigned webhooks (401s), and a
    429 for everything after them would leave the rest of the document unfuzzed."""
    return create_app(api_settings.model_copy(update={"auth_failure_limit": ""}), db, time_env.client)


# The booking-event and invoice operations (this package's); the whole document is fuzzed by the second test.
OWN_PREFIXES = ("/v1/events", "/v1/invoices")


def fuzz(
    schema_dict: dict[str, object],
    base_url: str,
    headers: dict[str, str],
    *,
    prefixes: tuple[str, ...] = ("/",),
    examples: int = EXAMPLES_PER_OPERATION,
) -> tuple[list[str], Counter[int]]:
    """Run every operation whose path starts with one of `prefixes`; return the server errors found and the
    status codes seen (to show the requests reached the handlers, not only the validation layer)."""
    schema = schemathesis.openapi.from_dict(schema_dict)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(prefixes):
            continue

        @given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        run()
    return failures, statuses


async def test_fuzzing_events_and_invoices_finds_no_server_error(
    app: FastAPI, base_url: str, worker: Worker, staff_headers: dict[str, str]
) -> None:
    failures, statuses = await asyncio.to_thread(fuzz, app.openapi(), base_url, staff_headers, prefixes=OWN_PREFIXES)
    assert failures == []
    # The requests reached the handlers, not only the validation layer. Which events were accepted (202) or
    # refused as reused ids (409) depends on what earlier tests left in the session's database, so acceptance
    # is shown by a valid booking after the fuzz: the app still takes one and issues its invoice.
    assert statuses[200] and statuses[404] and statuses[422], statuses
    example: dict[str, Any] = copy.deepcopy(cast(dict[str, Any], EVENT_EXAMPLES["confirmed"]["value"]))
    example["id"] = f"evt-after-fuzz-{uuid.uuid4().hex[:8]}"
    example["data"] = {**example["data"], "booking_id": f"bk-after-fuzz-{uuid.uuid4().hex[:8]}"}
    async with httpx.AsyncClient(base_url=base_url, headers=staff_headers, timeout=30) as client:
        accepted = await client.post("/v1/events", json=example)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["outcome"] == "invoice_started"


async def test_fuzzing_the_whole_openapi_document_finds_no_server_error(
    app: FastAPI, base_url: str, worker: Worker, staff_headers: dict[str, str]
) -> None:
    failures, _ = await asyncio.to_thread(
        fuzz, app.openapi(), base_url, staff_headers, examples=DOCUMENT_EXAMPLES_PER_OPERATION
    )
    assert failures == []


async def test_fuzzing_the_whole_openapi_document_with_a_viewer_key_finds_no_server_error(
    app: FastAPI, base_url: str, worker: Worker, viewer_headers: dict[str, str]
) -> None:
    failures, statuses = await asyncio.to_thread(
        fuzz, app.openapi(), base_url, viewer_headers, examples=VIEWER_EXAMPLES_PER_OPERATION
    )
    assert failures == []
    assert statuses[200] and statuses[403], statuses  # reads answered, writes refused
