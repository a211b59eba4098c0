"""`billflow temporal setup` registers the search attributes on a namespace chosen by envconfig, idempotently."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from billflow.config import get_settings
from starter.cli import app
from workflows.search_attributes import ALL_KEYS

pytestmark = pytest.mark.devserver


@pytest.fixture
def fresh_namespace_env(dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE pointing the CLI at a namespace with no custom attributes."""
    namespace = f"ops-{uuid.uuid4().hex[:8]}"
    config = dev_env.client.service_client.config
    monkeypatch.setenv("TEMPORAL_ADDRESS", config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", namespace)
    get_settings.cache_clear()
    yield namespace
    get_settings.cache_clear()


async def test_setup_registers_every_key_once(dev_env: WorkflowEnvironment, fresh_namespace_env: str) -> None:
    namespace = fresh_namespace_env
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400))
    )
    runner = CliRunner()
    # The CLI runs its own event loop: run it in a thread so it does not nest inside the test's loop.
    first = await asyncio.to_thread(runner.invoke, app, ["temporal", "setup", "--json"])
    assert first.exit_code == 0, first.output
    assert sorted(json.loads(first.output)["added"]) == sorted(key.name for key in ALL_KEYS)
    assert json.loads(first.output)["namespace"] == namespace

    listed = await dev_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {key.name for key in ALL_KEYS} <= set(listed.custom_attributes)

    again = await asyncio.to_thread(runner.invoke, app, ["temporal", "setup", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["added"] == []
