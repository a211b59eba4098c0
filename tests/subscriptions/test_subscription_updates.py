"""Subscription actions as Workflow Updates (issue 12, item 3), on the dev server (the time-skipping server has
none): the validator refuses with the reason before anything is written to history, an accepted action answers
with the state after it, a repeated action id is applied once, an action the run ends before reaching is refused
with the reason (the run still closes), and a run driven by Updates replays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from billflow.config import Settings
from billflow.db import Database
from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscription_actions
from billflow.services import subscriptions as service
from models import workflow_ids
from models.columns import DEFAULT_WORKSPACE_ID
from models.subscription_io import (
    BillingInterval,
    CancelSubscription,
    ChangePlan,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionIn,
    SubscriptionRunState,
    SubscriptionStatus,
    SubscriptionWorkflowInput,
    TriggerBilling,
)
from models.workflow_io import LineIn
from tests.conftest import TEST_CONVERTER
from tests.subscriptions.support import invoices_of, make_subscription, runs_of, subscription_events, terminate_all
from worker import build_worker
from workflows.subscription import SubscriptionWorkflow
from workflows.subscription_rules import rejection_reason

pytestmark = pytest.mark.devserver


@pytest.fixture
async def started(dev_env: WorkflowEnvironment, db: Database) -> AsyncIterator[list[str]]:
    """Subscription ids a test started; their runs and invoices' runs are terminated afterwards."""
    ids: list[str] = []
    yield ids
    for sub_id in ids:
        await terminate_all(dev_env.client, await runs_of(db, sub_id))


async def begin(
    env: WorkflowEnvironment, db: Database, task_queue: str, started: list[str], data: SubscriptionIn
) -> WorkflowHandle:
    """Create and start the subscription; return its run once it has found its first period."""
    view = await subscription_runs.create_and_start(db, env.client, data, task_queue=task_queue)
    started.append(view.subscription_id)
    handle = env.client.get_workflow_handle_for(SubscriptionWorkflow.run, view.workflow_id)
    for _ in range(200):
        state: SubscriptionRunState | None = await handle.query(SubscriptionWorkflow.status)
        if state is not None and state.started:
            return handle
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not start")


def weekly_from_next_month() -> SubscriptionIn:
    """A subscription whose first period lies ahead: nothing is billed while a test acts on it."""
    return make_subscription(start_date=date.today() + timedelta(days=30), interval=BillingInterval(kind="weekly"))


async def update_events(handle: WorkflowHandle) -> list[str]:
    """The names of the updates the run's history accepted."""
    history = await handle.fetch_history()
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]


async def test_accepted_actions_answer_with_the_state_after_them(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await begin(dev_env, db, task_queue, started, weekly_from_next_month())
        paused = await subscription_runs.execute_action(dev_env.client, handle.id, PauseSubscription(note="holiday"))
        assert paused.status is SubscriptionStatus.paused and paused.last_rejection is None
        resumed = await subscription_runs.execute_action(dev_env.client, handle.id, ResumeSubscription())
        assert resumed.status is SubscriptionStatus.active
        lines = [LineIn(description="Premium retainer", unit_price_minor=20_000)]
        changed = await subscription_runs.execute_action(dev_env.client, handle.id, ChangePlan(lines=lines))
        assert changed.next_period == resumed.next_period  # the plan changes from the next period on
        assert await update_events(handle) == ["apply_pause", "apply_resume", "apply_change_plan"]


async def test_a_refused_action_says_why_and_writes_nothing(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    data = weekly_from_next_month()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await begin(dev_env, db, task_queue, started, data)
        with pytest.raises(subscription_runs.ActionRejected, match="cannot resume an active subscription"):
            await subscription_runs.execute_action(dev_env.client, handle.id, ResumeSubscription())
        await subscription_runs.execute_action(dev_env.client, handle.id, PauseSubscription(action_id="pause-1"))
        sub_id = data.subscription_id or ""
        with pytest.raises(subscription_actions.ActionRefused, match="cannot pause a paused subscription"):
            await subscription_actions.act(db, dev_env.client, subscription_id=sub_id, action=PauseSubscription())
        state: SubscriptionRunState = await handle.query(SubscriptionWorkflow.status)
        assert await update_events(handle) == ["apply_pause"]  # the refused two never reached the history
    assert state.processed_action_ids == ["pause-1"] and state.last_rejection is None
    assert await subscription_events(db, sub_id) == ["subscription.created", "subscription.paused"]


async def test_the_same_action_id_is_applied_once(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    data = make_subscription(start_date=date.today() - timedelta(days=1), interval=BillingInterval(kind="weekly"))
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await begin(dev_env, db, task_queue, started, data)
        sub_id = data.subscription_id or ""
        pause = PauseSubscription(action_id="pause-once")
        first = await subscription_runs.execute_action(dev_env.client, handle.id, pause)
        again = await subscription_runs.execute_action(dev_env.client, handle.id, pause)  # a retried request
        assert first.status is again.status is SubscriptionStatus.paused  # not "cannot pause a paused ..."
        view = await subscription_actions.act(db, dev_env.client, subscription_id=sub_id, action=pause)
        assert view.status is SubscriptionStatus.paused
        assert await update_events(handle) == ["apply_pause"]
    assert (await subscription_events(db, sub_id)).count("subscription.paused") == 1


async def test_through_the_service_a_cancelled_subscription_refuses_a_pause(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    data = weekly_from_next_month()
    sub_id = data.subscription_id or ""
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await begin(dev_env, db, task_queue, started, data)
        act = {"db": db, "temporal": dev_env.client, "subscription_id": sub_id}
        cancelled = await subscription_actions.act(**act, action=CancelSubscription(note="moving"))  # type: ignore[arg-type]
        assert cancelled.status is SubscriptionStatus.cancelled
        assert (await handle.result()).status is SubscriptionStatus.cancelled
        with pytest.raises(subscription_actions.ActionRefused, match="no longer running"):
            await subscription_actions.act(**act, action=PauseSubscription())  # type: ignore[arg-type]


def test_the_rule_refuses_what_a_final_or_unbillable_subscription_cannot_take() -> None:
    cancelled = SubscriptionRunState(subscription_id="s", status=SubscriptionStatus.cancelled, started=True)
    assert rejection_reason(cancelled, PauseSubscription()) == "cannot pause a cancelled subscription"
    assert rejection_reason(cancelled, CancelSubscription()) == "cannot cancel a cancelled subscription"
    ended = cancelled.model_copy(update={"status": SubscriptionStatus.ended})
    assert rejection_reason(ended, TriggerBilling()) == "cannot bill an ended subscription"
    fresh = SubscriptionRunState(subscription_id="s", started=True)  # no period ahead or behind
    assert rejection_reason(fresh, TriggerBilling()) == "no period to bill"
    assert rejection_reason(fresh, ChangePlan(lines=[LineIn(description="x", unit_price_minor=1)])) == (
        "no further period to change the plan of"
    )
    assert rejection_reason(fresh, CancelSubscription()) is None


async def test_an_action_the_run_ends_before_reaching_is_refused_and_the_run_closes(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    """A cancel signal and a pause Update delivered together: the validator still sees an active subscription and
    accepts; the main loop applies the cancel first and ends, so the pause is answered with the reason."""
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await begin(dev_env, db, task_queue, started, weekly_from_next_month())
    # No worker now: both wait for the next one, and reach the run in one workflow task.
    await subscription_runs.send_action(dev_env.client, handle.id, CancelSubscription())
    pause = asyncio.create_task(subscription_runs.execute_action(dev_env.client, handle.id, PauseSubscription()))
    await asyncio.sleep(0.5)
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        with pytest.raises(subscription_runs.ActionRejected, match="cannot pause a cancelled subscription"):
            await asyncio.wait_for(pause, timeout=30)
        outcome = await asyncio.wait_for(handle.result(), timeout=30)
    assert outcome.status is SubscriptionStatus.cancelled
    assert await update_events(handle) == ["apply_pause"]  # accepted, then refused by the main loop


async def test_updates_racing_continue_as_new_are_all_answered(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    # Two periods already due and one period per run: the first run bills both and continues as new at once.
    data = make_subscription(start_date=date.today() - timedelta(days=8), interval=BillingInterval(kind="weekly"))
    sub_id = data.subscription_id or ""
    async with db.session() as session:
        await service.create_subscription(session, data=data)
    started.append(sub_id)
    wf_id = workflow_ids.subscription(workspace_id=DEFAULT_WORKSPACE_ID, subscription_id=sub_id)
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await dev_env.client.start_workflow(
            SubscriptionWorkflow.run,
            SubscriptionWorkflowInput(subscription_id=sub_id, periods_per_run=1),
            id=wf_id,
            task_queue=task_queue,
        )
        for n in range(5):
            paused = await subscription_runs.execute_action(
                dev_env.client, wf_id, PauseSubscription(action_id=f"pause-{n}")
            )
            assert paused.status is SubscriptionStatus.paused
            resumed = await subscription_runs.execute_action(
                dev_env.client, wf_id, ResumeSubscription(action_id=f"resume-{n}")
            )
            assert resumed.status is SubscriptionStatus.active
        assert (await dev_env.client.get_workflow_handle(wf_id).describe()).run_id != handle.first_execution_run_id
    assert (await subscription_events(db, sub_id)).count("subscription.paused") == 5


async def test_the_legacy_run_id_answers_through_its_update(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    """A subscription started before workspaces is reached under its old run id."""
    data = weekly_from_next_month()
    async with db.session() as session:
        sub, _ = await service.create_subscription(session, data=data)
        assert sub.workflow_id == f"subscription-w{DEFAULT_WORKSPACE_ID}-{sub.id}"  # new runs carry the workspace
        sub.workflow_id = workflow_ids.legacy_subscription(sub.id)  # as recorded before workspaces
        session.add(sub)
    started.append(sub.id)
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        view = await subscription_runs.create_and_start(db, dev_env.client, data, task_queue=task_queue)
        assert view.workflow_id == f"subscription-{sub.id}"
        paused = await subscription_actions.act(db, dev_env.client, subscription_id=sub.id, action=PauseSubscription())
        assert paused.status is SubscriptionStatus.paused
        legacy = await subscription_runs.query_state(dev_env.client, f"subscription-{sub.id}")
    assert legacy.status is SubscriptionStatus.paused


async def test_a_run_driven_by_updates_replays_without_nondeterminism(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str, started: list[str]
) -> None:
    data = make_subscription(start_date=date.today() - timedelta(days=1), interval=BillingInterval(kind="weekly"))
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await begin(dev_env, db, task_queue, started, data)
        run = dev_env.client.get_workflow_handle(handle.id)
        for action in (
            PauseSubscription(action_id="p"),
            ResumeSubscription(action_id="r"),
            TriggerBilling(action_id="t"),  # the current period, billed already: nothing more
            ChangePlan(action_id="c", lines=[LineIn(description="More", unit_price_minor=12_000)]),
        ):
            await subscription_runs.execute_action(dev_env.client, handle.id, action)
        with pytest.raises(subscription_runs.ActionRejected):  # refused by the validator: not in the history
            await subscription_runs.execute_action(dev_env.client, handle.id, ResumeSubscription(action_id="r2"))
        await subscription_runs.execute_action(dev_env.client, handle.id, CancelSubscription(action_id="x"))
        await handle.result()
        history = await run.fetch_history()
    replayer = Replayer(workflows=[SubscriptionWorkflow], data_converter=TEST_CONVERTER)
    assert (await replayer.replay_workflow(history)).replay_failure is None
    assert await update_events(run) == [
        "apply_pause",
        "apply_resume",
        "apply_trigger",
        "apply_change_plan",
        "apply_cancel",
    ]
    assert len(await invoices_of(db, data.subscription_id or "")) == 1
