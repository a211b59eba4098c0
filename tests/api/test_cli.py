"""The CLI edges: keys, integrations and `billflow events send` against the served app and the real worker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.services import api_keys
from starter.cli import app as cli
from tests.api.support import confirmed_event


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, api_settings: Settings, base_url: str) -> Iterator[None]:
    """Point the CLI's settings at the test database, task queue and served app."""
    assert api_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", api_settings.database_url)
    monkeypatch.setenv("BILLFLOW_PUBLIC_URL", base_url)
    monkeypatch.setenv("BILLFLOW_TASK_QUEUE", api_settings.task_queue)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str) -> tuple[int, str]:
    """Run the CLI in a thread (it runs its own event loop); returns (exit code, output)."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output


async def test_key_create_list_revoke(cli_env: None, db: Database) -> None:
    name = f"desk-{uuid.uuid4().hex[:6]}"
    code, out = await invoke("key", "create", name, "--role", "viewer", "--json")
    assert code == 0, out
    created = json.loads(out)
    assert created["token"].startswith("bf_") and created["role"] == "viewer"
    assert await api_keys.verify_token(db, created["token"]) is not None
    code, out = await invoke("key", "list", "--json")
    assert created["key_id"] in {k["key_id"] for k in json.loads(out)}
    assert "token" not in out
    code, out = await invoke("key", "revoke", created["key_id"])
    assert code == 0, out
    assert await api_keys.verify_token(db, created["token"]) is None


async def test_revoking_an_unknown_key_fails(cli_env: None) -> None:
    code, out = await invoke("key", "revoke", "nope")
    assert code == 1
    assert "no API key" in out


async def test_events_send_posts_a_signed_event_that_starts_an_invoice(
    cli_env: None, worker: Worker, tmp_path: Path
) -> None:
    name = f"cal-{uuid.uuid4().hex[:6]}"
    code, out = await invoke("integration", "create", name, "--json")
    assert code == 0, out
    code, out = await invoke("integration", "list", "--json")
    assert name in {i["name"] for i in json.loads(out)} and "secret" not in out
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(confirmed_event()))
    code, out = await invoke("events", "send", str(event_file), "--integration", name, "--json")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["outcome"] == "invoice_started"
    assert answer["invoice_number"].startswith("INV-")
    code, again = await invoke("events", "send", str(event_file), "--integration", name, "--json")
    assert json.loads(again) == answer  # same event id: same answer, nothing new


async def test_events_send_with_a_bad_file_exits_non_zero(cli_env: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out = await invoke("events", "send", str(bad), "--integration", "x")
    assert code == 2
    assert "is not JSON" in " ".join(out.split())
