"""Staff endpoints of collections: the plan ahead, dry runs of extend and pause, resolving a dispute; and the CLI
commands over the same services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.services import staff_actions
from billflow.services.invoice_runs import query_state, send_collection
from models.enums import InvoiceStatus
from models.workflow_io import DisputeRaised
from starter.cli import app as cli
from tests.api.support import confirmed_event, issue_email_sent, post_signed
from tests.standins.fixtures import wait_until

Headers = dict[str, str]


@pytest.fixture
async def number(http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database) -> str:
    """An issued invoice whose run has started and sent its issue email."""
    name, secret = integration
    response = await post_signed(http, name, secret, confirmed_event())
    assert response.status_code == 202, response.text
    number = str(response.json()["invoice_number"])
    await issue_email_sent(db, number)
    return number


async def _dispute(db: Database, time_env: WorkflowEnvironment, number: str) -> None:
    workflow_id = await staff_actions.workflow_id_for(db, number=number)
    dispute = DisputeRaised(answer_id="ab" * 16, received_at=datetime.now(UTC), reason="wrong hours billed")
    await send_collection(time_env.client, workflow_id, dispute)

    async def disputed() -> bool:
        state = await query_state(time_env.client, workflow_id)
        return state is not None and state.status is InvoiceStatus.disputed

    await wait_until(disputed)


async def test_plan_lists_reminders_at_local_time_overdue_and_escalation(
    http: httpx.AsyncClient, number: str, viewer_headers: Headers
) -> None:
    response = await http.get(f"/v1/invoices/{number}/plan", headers=viewer_headers)
    assert response.status_code == 200, response.text
    plan = response.json()
    kinds = [e["kind"] for e in plan["entries"]]
    assert kinds.count("reminder") == 5 and "overdue" in kinds and kinds[-1] == "escalation"
    reminders = [e for e in plan["entries"] if e["kind"] == "reminder"]
    assert all(e["local_label"].endswith("09:00 Europe/London") for e in reminders)
    instants = [e["at"] for e in plan["entries"]]
    assert instants == sorted(instants)
    missing = await http.get("/v1/invoices/INV-1999-000001/plan", headers=viewer_headers)
    assert missing.status_code == 404


async def test_dry_run_of_extend_shows_the_moved_plan_and_changes_nothing(
    http: httpx.AsyncClient, number: str, staff_headers: Headers, viewer_headers: Headers
) -> None:
    before = (await http.get(f"/v1/invoices/{number}/plan", headers=viewer_headers)).json()
    response = await http.post(
        f"/v1/invoices/{number}/extend-due-date",
        params={"dry_run": "true"},
        json={"extend_days": 7},
        headers=staff_headers,
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["dry_run"] is True and preview["action"] == "extend-due-date"
    old_due = datetime.fromisoformat(preview["before"]["due_at"])
    new_due = datetime.fromisoformat(preview["after"]["due_at"])
    assert new_due - old_due == timedelta(days=7)
    old_steps = [datetime.fromisoformat(e["at"]) for e in preview["before"]["entries"] if e["kind"] == "reminder"]
    new_steps = [datetime.fromisoformat(e["at"]) for e in preview["after"]["entries"] if e["kind"] == "reminder"]
    assert [b - a for a, b in zip(old_steps, new_steps, strict=True)] == [timedelta(days=7)] * 5
    after = (await http.get(f"/v1/invoices/{number}/plan", headers=viewer_headers)).json()
    assert after["due_at"] == before["due_at"]  # nothing applied


async def test_dry_run_of_pause_marks_the_steps_it_would_skip(
    http: httpx.AsyncClient, number: str, staff_headers: Headers
) -> None:
    plan = (await http.get(f"/v1/invoices/{number}/plan", headers=staff_headers)).json()
    second = datetime.fromisoformat([e for e in plan["entries"] if e["kind"] == "reminder"][1]["at"])
    until = (second + timedelta(hours=1)).isoformat()
    url = f"/v1/invoices/{number}/pause-reminders"
    response = await http.post(url, params={"dry_run": "true"}, json={"until": until}, headers=staff_headers)
    assert response.status_code == 200, response.text
    steps = [e for e in response.json()["after"]["entries"] if e["kind"] == "reminder"]
    assert [e["skipped"] for e in steps] == [True, True, False, False, False]
    assert "pause_ends" in [e["kind"] for e in response.json()["after"]["entries"]]
    state = (await http.get(f"/v1/invoices/{number}", headers=staff_headers)).json()
    assert state["reminders_paused"] is False and state["live"]["paused"] is False


async def test_dry_run_of_an_action_that_does_not_apply_is_409(
    http: httpx.AsyncClient, number: str, staff_headers: Headers
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    url = f"/v1/invoices/{number}/pause-reminders"
    response = await http.post(url, params={"dry_run": "true"}, json={"until": past}, headers=staff_headers)
    assert response.status_code == 409 and "past" in response.json()["detail"]


async def test_resolve_dispute_is_409_unless_disputed_then_resumes_reminders(
    http: httpx.AsyncClient,
    number: str,
    staff_headers: Headers,
    viewer_headers: Headers,
    db: Database,
    time_env: WorkflowEnvironment,
) -> None:
    url = f"/v1/invoices/{number}/resolve-dispute"
    not_disputed = await http.post(url, json={"resolution": "n/a"}, headers=staff_headers)
    assert not_disputed.status_code == 409 and "not disputed" in not_disputed.json()["detail"]
    await _dispute(db, time_env, number)
    plan = (await http.get(f"/v1/invoices/{number}/plan", headers=viewer_headers)).json()
    assert plan["status"] == "disputed"
    assert all(e["skipped"] for e in plan["entries"] if e["kind"] == "reminder")
    listed = await http.get("/v1/invoices", params={"q": number, "status": "disputed"}, headers=viewer_headers)
    assert listed.json()["total"] == 1
    assert (await http.post(url, json={"resolution": "x"}, headers=viewer_headers)).status_code == 403
    assert (await http.post(url, json={"resolution": ""}, headers=staff_headers)).status_code == 422
    resolved = await http.post(url, json={"resolution": "Hours corrected by phone"}, headers=staff_headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"]["status"] == "open" and resolved.json()["state"]["hold"] is None


# --- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, api_settings: Settings, time_env: WorkflowEnvironment) -> Iterator[None]:
    assert api_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", api_settings.database_url)
    monkeypatch.setenv("BILLFLOW_TASK_QUEUE", api_settings.task_queue)
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_env.client.service_client.config.target_host)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


async def test_cli_plan_dry_run_and_resolve_dispute(
    cli_env: None, number: str, db: Database, time_env: WorkflowEnvironment
) -> None:
    code, out = await invoke("invoice", "plan", number, "--json")
    assert code == 0, out
    assert [e["kind"] for e in json.loads(out)["entries"]].count("reminder") == 5
    code, out = await invoke("invoice", "extend-due-date", number, "--by", "7d", "--dry-run")
    assert code == 0, out
    assert "Dry run" in out and "Plan after extend-due-date" in out
    code, out = await invoke("invoice", "show", number)
    assert code == 0 and "Plan ahead" in out
    code, out = await invoke("invoice", "resolve-dispute", number, "--resolution", "none")
    assert code == 1 and "not disputed" in out
    await _dispute(db, time_env, number)
    code, out = await invoke("invoice", "resolve-dispute", number, "--resolution", "credited one hour", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "open"
