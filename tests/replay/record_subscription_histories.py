"""Record the subscription runs the replay test guards: one run per JSON file in histories/subscription/.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres PATH=.venv/bin:$PATH \
        .venv/bin/python -m tests.replay.record_subscription_histories

Each scenario drives a SubscriptionWorkflow with signals (how runs started before the Updates of issue 12.3 were
driven) on the time-skipping server, real worker, scratch database; payloads encrypted with the tests' key. The
files in the repository were recorded by the code before the Updates were added: re-record only after an
intended, patched change.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscriptions as service
from billflow.temporal import ensure_search_attributes
from models.subscription_io import (
    BillingInterval,
    CancelSubscription,
    ChangePlan,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionWorkflowInput,
    TriggerBilling,
)
from models.workflow_ids import legacy_subscription
from models.workflow_io import LineIn
from tests.conftest import TEST_CONVERTER, bundled_binary
from tests.replay.record_histories import HISTORIES, with_scratch_database
from tests.subscriptions.support import applied, make_subscription
from worker import build_worker
from workflows.subscription import SubscriptionWorkflow

SUBSCRIPTION_HISTORIES = HISTORIES / "subscription"
DAY = timedelta(days=1)
Scenario = Callable[[WorkflowEnvironment, Database, str], Awaitable[WorkflowHistory]]


async def signals(env: WorkflowEnvironment, db: Database, task_queue: str) -> WorkflowHistory:
    """Weekly: billed, paused (two weeks skipped), a refused resume and pause, resumed, a skipped week triggered
    twice (billed once), the current week triggered, the plan changed, one more week billed, cancelled."""
    start = (await env.get_current_time()).date() + DAY
    data = make_subscription(subscription_id=f"replay-sub-{uuid.uuid4().hex[:6]}", start_date=start,
                             interval=BillingInterval(kind="weekly"))  # fmt: skip
    view = await subscription_runs.create_and_start(db, env.client, data, task_queue=task_queue)
    wf_id, client = view.workflow_id, env.client
    await env.sleep(2 * DAY)
    await applied(client, wf_id, ResumeSubscription(action_id="replay-resume-active"))  # refused: not paused
    await applied(client, wf_id, PauseSubscription(action_id="replay-pause"))
    await applied(client, wf_id, PauseSubscription(action_id="replay-pause-again"))  # refused: paused
    await env.sleep(14 * DAY)
    await applied(client, wf_id, ResumeSubscription(action_id="replay-resume"))
    skipped = TriggerBilling(action_id="replay-trigger", period_start=start + timedelta(weeks=1))
    await applied(client, wf_id, skipped)
    await applied(client, wf_id, skipped)  # the same action id again: processed once
    await applied(client, wf_id, TriggerBilling(action_id="replay-trigger-current"))  # week 3, skipped: billed
    lines = [LineIn(description="Premium retainer", quantity=2, unit_price_minor=7_500)]
    await applied(client, wf_id, ChangePlan(action_id="replay-change", lines=lines))
    await env.sleep(7 * DAY)
    await subscription_runs.send_action(client, wf_id, CancelSubscription(action_id="replay-cancel", note="moving"))
    handle = client.get_workflow_handle(wf_id)
    await handle.result()
    return await handle.fetch_history()


async def continued(env: WorkflowEnvironment, db: Database, task_queue: str) -> WorkflowHistory:
    """Weekly, two periods per run: the first run pauses and resumes, then continues as new."""
    start = (await env.get_current_time()).date() + DAY
    data = make_subscription(subscription_id=f"replay-sub-{uuid.uuid4().hex[:6]}", start_date=start,
                             interval=BillingInterval(kind="weekly"), max_cycles=3)  # fmt: skip
    async with db.session() as session:
        await service.create_subscription(session, data=data)
    sub_id = data.subscription_id or ""
    handle = await env.client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionWorkflowInput(subscription_id=sub_id, periods_per_run=2),
        id=legacy_subscription(sub_id),
        task_queue=task_queue,
    )
    await applied(env.client, handle.id, PauseSubscription(action_id="replay-pause"))
    await applied(env.client, handle.id, ResumeSubscription(action_id="replay-resume"))
    await handle.result()  # follows the runs
    first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    return await first.fetch_history()


SCENARIOS: dict[str, Scenario] = {"signals": signals, "continued": continued}


async def record_all(db: Database, settings: Settings) -> None:
    SUBSCRIPTION_HISTORIES.mkdir(parents=True, exist_ok=True)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER, test_server_existing_path=bundled_binary("temporal-test-server")
    )
    try:
        await ensure_search_attributes(env.client)
        task_queue = f"record-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, db, settings, task_queue=task_queue):
            for name, scenario in SCENARIOS.items():
                history = await scenario(env, db, task_queue)
                compact = json.dumps(json.loads(history.to_json()), separators=(",", ":"))
                (SUBSCRIPTION_HISTORIES / f"{name}.json").write_text(compact + "\n")
                print(f"{name}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(with_scratch_database(record_all))
