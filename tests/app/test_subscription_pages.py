"""Subscription pages against the time-skipping server and the real worker: list, detail, pause (and its
refusal when repeated), resume."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.runs import subscriptions as subscription_runs
from billflow.web.app import create_app
from models.api_keys import ApiRole
from tests.app.support import browserless, make_user, post_form, sign_in
from tests.subscriptions.support import make_subscription, terminate_all


async def test_staff_pause_and_resume_a_subscription(
    time_env: WorkflowEnvironment, worker: Worker, db: Database, api_settings: Settings
) -> None:
    start = (await time_env.get_current_time()).date()
    view = await subscription_runs.create_and_start(
        db, time_env.client, make_subscription(start_date=start), task_queue=api_settings.task_queue
    )
    app = create_app(api_settings, db, time_env.client)
    page = f"/app/subscriptions/{view.subscription_id}"
    try:
        async with browserless(app) as http:
            await sign_in(http, (await make_user(db, ApiRole.staff)).email)
            listed = await http.get("/app/subscriptions")
            assert f'data-subscription="{view.subscription_id}"' in listed.text
            paused = await post_form(http, page, f"{page}/pause", {"confirm": "yes"})
            assert paused.status_code == 303
            shown = await http.get(page)
            assert "Subscription paused." in shown.text and 'data-testid="sub-status">paused<' in shown.text
            again = await post_form(http, page, f"{page}/pause", {"confirm": "yes"})
            assert again.status_code == 303 and "Refused:" in (await http.get(page)).text
            unconfirmed = await post_form(http, page, f"{page}/resume", {})
            assert unconfirmed.status_code == 303 and "Tick the box" in (await http.get(page)).text
            await post_form(http, page, f"{page}/resume", {"confirm": "yes"})
            assert 'data-testid="sub-status">active<' in (await http.get(page)).text
    finally:
        await terminate_all(time_env.client, [view.workflow_id])
