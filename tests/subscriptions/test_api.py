"""POST /v1/subscriptions and friends, in process against the dev server and the real worker (the actions are
Workflow Updates, which the time-skipping server lacks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys
from billflow.web.app import create_app
from models.api_keys import ApiRole
from tests.subscriptions.support import invoices_of, make_subscription, runs_of, terminate_all
from worker import build_worker

pytestmark = pytest.mark.devserver


@pytest.fixture
def api_settings(settings: Settings, task_queue: str) -> Settings:
    return settings.model_copy(update={"task_queue": task_queue})


@pytest.fixture
async def worker(
    dev_env: WorkflowEnvironment, db: Database, api_settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(dev_env.client, db, api_settings, task_queue=task_queue) as running:
        yield running


@pytest.fixture
async def http(api_settings: Settings, db: Database, dev_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, db, dev_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as client:
        yield client


@pytest.fixture
async def staff(db: Database) -> dict[str, str]:
    token = (await api_keys.create_key(db, api_keys.NewApiKey(name="subs", role=ApiRole.staff))).token
    return {"Authorization": f"Bearer {token}"}


def body(time_now_day: object, **overrides: object) -> dict[str, object]:
    data = make_subscription(start_date=time_now_day, **overrides)
    return data.model_dump(mode="json")


async def test_create_pause_resume_change_trigger_cancel_over_http(
    http: httpx.AsyncClient, staff: dict[str, str], worker: Worker, dev_env: WorkflowEnvironment, db: Database
) -> None:
    # Yesterday in the client's zone: its first period has begun whatever the hour (a start of today in UTC had not
    # yet begun before 09:00 in New York, and the plan change then replaced the plan instead of following it).
    now = await dev_env.get_current_time()
    start = now.astimezone(ZoneInfo("America/New_York")).date() - timedelta(days=1)
    payload = body(start, interval={"kind": "weekly"})
    created = await http.post("/v1/subscriptions", json=payload, headers=staff)
    assert created.status_code == 201, created.text
    sub_id = created.json()["subscription_id"]
    try:
        again = await http.post("/v1/subscriptions", json=payload, headers=staff)
        assert again.status_code == 201 and again.json()["workflow_id"] == f"subscription-w1-{sub_id}"

        paused = await http.post(f"/v1/subscriptions/{sub_id}/pause", headers=staff)
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
        twice = await http.post(f"/v1/subscriptions/{sub_id}/pause", headers=staff)
        assert twice.status_code == 409 and "paused" in twice.json()["detail"]
        resumed = await http.post(f"/v1/subscriptions/{sub_id}/resume", json={"note": "back"}, headers=staff)
        assert resumed.json()["status"] == "active"

        lines = [{"description": "Bigger plan", "unit_price_minor": 20_000}]
        changed = await http.post(f"/v1/subscriptions/{sub_id}/change", json={"lines": lines}, headers=staff)
        assert changed.status_code == 200 and len(changed.json()["plans"]) == 2

        triggered = await http.post(f"/v1/subscriptions/{sub_id}/trigger", json={}, headers=staff)
        assert triggered.status_code == 200
        assert len(await invoices_of(db, sub_id)) == 1  # the current period, once

        bad = await http.post(
            f"/v1/subscriptions/{sub_id}/trigger", json={"period_start": str(start + timedelta(days=3))}, headers=staff
        )
        assert bad.status_code == 409 and "no period" in bad.json()["detail"]

        cancelled = await http.post(f"/v1/subscriptions/{sub_id}/cancel", headers=staff)
        assert cancelled.json()["status"] == "cancelled"
        shown = await http.get(f"/v1/subscriptions/{sub_id}", headers=staff)
        assert shown.json()["periods_billed"] == 1
        listed = await http.get("/v1/subscriptions", params={"status": "cancelled"}, headers=staff)
        assert sub_id in [s["subscription_id"] for s in listed.json()]
    finally:
        wf = await runs_of(db, sub_id)
        await terminate_all(dev_env.client, wf)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"interval": {"kind": "cron", "cron": "* * * * *"}}, "cron"),
        ({"currency": "XXY"}, "currency"),
        ({"end_date": "2000-01-01"}, "end_date"),
        ({"lines": []}, "lines"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    http: httpx.AsyncClient, staff: dict[str, str], change: dict[str, object], field: str
) -> None:
    payload = make_subscription().model_dump(mode="json") | change
    answer = await http.post("/v1/subscriptions", json=payload, headers=staff)
    assert answer.status_code == 422
    assert field in answer.text


async def test_without_a_staff_key_nothing_is_created(http: httpx.AsyncClient, db: Database) -> None:
    payload = make_subscription().model_dump(mode="json")
    assert (await http.post("/v1/subscriptions", json=payload)).status_code == 401
    async with db.session() as session:
        from billflow.repositories import subscriptions as subs_repo

        assert await subs_repo.get_subscription(session, subscription_id=payload["subscription_id"]) is None


async def test_unknown_subscription_is_404(http: httpx.AsyncClient, staff: dict[str, str]) -> None:
    assert (await http.get("/v1/subscriptions/sub-nope", headers=staff)).status_code == 404
    assert (await http.post("/v1/subscriptions/sub-nope/pause", headers=staff)).status_code == 404


async def test_an_unbounded_backfill_is_422_naming_start_date(
    http: httpx.AsyncClient, staff: dict[str, str], db: Database
) -> None:
    payload = body("2000-01-01", interval={"kind": "weekly"})
    response = await http.post("/v1/subscriptions", json=payload, headers=staff)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "start_date"]]
    assert (await http.get(f"/v1/subscriptions/{payload['subscription_id']}", headers=staff)).status_code == 404
