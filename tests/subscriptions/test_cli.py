"""`billflow subscription ...` against the test database, the dev server and the real worker (the actions are
Workflow Updates, which the time-skipping server lacks)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.repositories import subscriptions as subs_repo
from starter.cli import app as cli
from tests.subscriptions.support import invoices_of, runs_of, terminate_all
from worker import build_worker

pytestmark = pytest.mark.devserver


@pytest.fixture
async def worker(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue) as running:
        yield running


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, task_queue: str, dev_env: WorkflowEnvironment
) -> Iterator[None]:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BILLFLOW_TASK_QUEUE", task_queue)
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output


async def test_create_pause_change_trigger_cancel_from_the_cli(
    cli_env: None, worker: Worker, dev_env: WorkflowEnvironment, db: Database
) -> None:
    sub_id = f"sub-cli-{uuid.uuid4().hex[:8]}"
    start = (await dev_env.get_current_time()).date().isoformat()
    try:
        code, out = await invoke(
            "subscription", "create", "--id", sub_id, "--client", f"c-{sub_id}", "--name", "Ada",
            "--email", "ada@example.com", "--timezone", "Europe/Berlin", "--line", "Retainer=50000",
            "--currency", "EUR", "--interval", "monthly", "--start", start, "--cycles", "6", "--json",
        )  # fmt: skip
        assert code == 0, out
        created = json.loads(out)
        assert created["subscription_id"] == sub_id and created["status"] == "active"

        code, out = await invoke("subscription", "pause", sub_id, "--json")
        assert code == 0 and json.loads(out)["status"] == "paused"
        code, out = await invoke("subscription", "pause", sub_id)
        assert code == 1 and "cannot pause" in out
        code, out = await invoke("subscription", "resume", sub_id)
        assert code == 0, out
        code, out = await invoke("subscription", "change", sub_id, "--line", "Retainer=60000", "--line", "Extra=500x3")
        assert code == 0 and "Plan" in out
        code, out = await invoke("subscription", "trigger", sub_id, "--json")
        assert code == 0, out
        assert len(await invoices_of(db, sub_id)) == 1
        code, out = await invoke("subscription", "list", "--json")
        assert code == 0 and sub_id in [s["subscription_id"] for s in json.loads(out)]  # the API's list
        code, out = await invoke("subscription", "list")
        assert code == 0 and "Subscriptions" in out
        code, out = await invoke("subscription", "cancel", sub_id, "--note", "closing")
        assert code == 0 and "cancelled" in out
        code, out = await invoke("subscription", "show", sub_id, "--json")
        assert json.loads(out)["status"] == "cancelled"
    finally:
        wf = await runs_of(db, sub_id)
        await terminate_all(dev_env.client, wf)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--line", "Retainer"], "description=unit_price_minor"),
        (["--line", "Retainer=100", "--interval", "cron", "--cron", "* * * * *"], "cron"),
        (["--line", "Retainer=100", "--currency", "ZZZ"], "currency"),
    ],
)
async def test_bad_input_is_a_message_and_exit_code_2(cli_env: None, args: list[str], message: str) -> None:
    base = ["subscription", "create", "--client", "c-bad", "--name", "Ada", "--email", "ada@example.com"]
    code, out = await invoke(*base, *args)
    assert code == 2
    assert message in out


async def test_unknown_subscription_fails(cli_env: None) -> None:
    code, out = await invoke("subscription", "show", "sub-nope")
    assert code == 1 and "does not exist" in out


async def test_an_unbounded_backfill_is_a_clear_cli_error(cli_env: None, db: Database) -> None:
    sub_id = f"sub-{uuid.uuid4().hex[:8]}"
    code, output = await invoke(
        "subscription", "create", "--client", f"c-{sub_id}", "--name", "Ada", "--email", "ada@example.com",
        "--line", "Daily=100", "--interval", "weekly", "--start", "2000-01-01", "--id", sub_id,
    )  # fmt: skip
    assert code != 0
    assert "start_date" in output and "BILLFLOW_SUBSCRIPTION_MAX_BACKFILL" in output
    async with db.session() as session:
        assert await subs_repo.get_subscription(session, subscription_id=sub_id) is None


async def test_create_with_workspace_bills_in_that_workspace(
    cli_env: None, worker: Worker, dev_env: WorkflowEnvironment, db: Database
) -> None:
    from tests.workspaces.support import make_workspace

    b = await make_workspace(db)
    sub_id = f"sub-cli-{uuid.uuid4().hex[:8]}"
    start = (await dev_env.get_current_time()).date().isoformat()
    try:
        code, out = await invoke(
            "subscription", "create", "--id", sub_id, "--client", f"c-{sub_id}", "--name", "Ada",
            "--email", "ada@example.com", "--line", "Retainer=50000", "--currency", "EUR", "--start", start,
            "--workspace", b.slug, "--json",
        )  # fmt: skip
        assert code == 0, out
        code, out = await invoke("subscription", "trigger", sub_id, "--json")
        assert code == 0, out
        async with db.session() as session:
            sub = await subs_repo.get_subscription(session, subscription_id=sub_id)
        [invoice] = await invoices_of(db, sub_id)
        assert sub is not None and (sub.workspace_id, invoice.workspace_id) == (b.id, b.id)
        code, out = await invoke("subscription", "create", "--client", "x", "--name", "X", "--email", "x@example.com",
                                 "--line", "R=1", "--workspace", "no-such-workspace")  # fmt: skip
        assert code == 2 and "--workspace" in out
    finally:
        wf = await runs_of(db, sub_id)
        await terminate_all(dev_env.client, wf)
