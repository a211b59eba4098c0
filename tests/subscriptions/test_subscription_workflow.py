"""SubscriptionWorkflow end to end on the time-skipping server: real worker, PostgreSQL, local backends. Actions
go as signals here (the time-skipping server has no Updates); the Updates that answer them are tested on the dev
server (test_subscription_updates.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow import periods
from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import subscriptions as subs_repo
from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscriptions as service
from billflow.services.invoice_runs import start_invoice
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
from tests.subscriptions.support import (
    PLAN_TOTAL,
    applied,
    first_task_done,
    invoices_of,
    make_subscription,
    month_end_clamped,
    next_date_with,
    runs_of,
    terminate_all,
)
from worker import build_worker
from workflows.search_attributes import WORKSPACE_ID
from workflows.subscription import SubscriptionWorkflow

DAY = timedelta(days=1)


def run_of(subscription_id: str) -> str:
    """The run id of a subscription these tests created (in the default workspace)."""
    return workflow_ids.subscription(workspace_id=DEFAULT_WORKSPACE_ID, subscription_id=subscription_id)


@pytest.fixture
async def worker(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    async with build_worker(time_env.client, db, settings, task_queue=task_queue) as running:
        yield running


@pytest.fixture
async def started(time_env: WorkflowEnvironment, db: Database, task_queue: str) -> AsyncIterator[list[str]]:
    """Subscription ids a test started; their workflows and invoices are terminated afterwards."""
    ids: list[str] = []
    yield ids
    wf_ids = []
    for sub_id in ids:
        wf_ids += await runs_of(db, sub_id)
    await terminate_all(time_env.client, wf_ids)


async def begin(
    env: WorkflowEnvironment, db: Database, task_queue: str, started: list[str], data: SubscriptionIn
) -> WorkflowHandle:
    view = await subscription_runs.create_and_start(db, env.client, data, task_queue=task_queue)
    started.append(view.subscription_id)
    # A second start finds the same run; the handle the env's client returns skips time while awaiting result().
    return await subscription_runs.start_workflow(env.client, view.subscription_id, task_queue=task_queue)


async def until_state(
    env: WorkflowEnvironment, sub_id: str, predicate: Callable[[SubscriptionRunState], bool], timeout: float = 15
) -> SubscriptionRunState:
    """Poll the status query in real time (no skipping) until `predicate` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    state = None
    while asyncio.get_running_loop().time() < deadline:
        state = await subscription_runs.query_state(env.client, run_of(sub_id))
        if state is not None and predicate(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached in {timeout}s; last state {state!r}")


async def today(env: WorkflowEnvironment) -> date:
    return (await env.get_current_time()).date()


async def test_monthly_from_jan_31_issues_twelve_invoices_with_their_periods(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    start = next_date_with(1, 31, await today(time_env) + DAY)
    data = make_subscription(start_date=start, max_cycles=12)
    handle = await begin(time_env, db, task_queue, started, data)

    outcome = await handle.result()  # skips through the year

    assert outcome.status is SubscriptionStatus.ended and outcome.periods_billed == 12
    invoices = await invoices_of(db, data.subscription_id or "")
    year = start.year
    starts = [month_end_clamped(year, m, 31) for m in range(1, 13)]
    ends = [d - DAY for d in [*starts[1:], date(year + 1, 1, 31)]]
    assert [(i.period_start, i.period_end) for i in invoices] == list(zip(starts, ends, strict=True))
    assert [i.issue_date for i in invoices] == starts  # issued on each period's first day, local time
    # ... at 09:00 New York time, within the one-minute spread that keeps simultaneous wake-ups apart.
    local = [i.issued_at.astimezone(ZoneInfo("America/New_York")) for i in invoices]
    assert {(t.hour, t.minute) for t in local} == {(9, 0)}
    assert all(i.total_minor == PLAN_TOTAL and i.currency == "USD" for i in invoices)
    # Unpaid earlier invoices did not stop the next ones: all twelve are open or overdue together.
    assert all(i.status in ("open", "overdue") for i in invoices)
    async with db.session() as session:
        sub = await subs_repo.get_subscription(session, subscription_id=data.subscription_id or "")
    assert sub is not None and sub.status == "ended" and sub.ends_on == ends[-1]


async def test_double_fire_and_backfill_over_billed_periods_create_nothing(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    # Started four months ago: the catch-up bills the periods already due, once each.
    now_day = await today(time_env)
    start = now_day - timedelta(days=120)
    data = make_subscription(start_date=start, interval=BillingInterval(kind="monthly"))
    handle = await begin(time_env, db, task_queue, started, data)
    sub_id = data.subscription_id or ""
    due = periods.periods_until(data.schedule(), await time_env.get_current_time())
    assert len(due) >= 4
    await until_state(time_env, sub_id, lambda s: s.periods_billed == len(due))
    before = await invoices_of(db, sub_id)

    # Fire again: a second workflow start, triggers for every billed period, a direct invoice start.
    again = await subscription_runs.create_and_start(db, time_env.client, data, task_queue=task_queue)
    assert again.workflow_id == handle.id
    for period in due:
        await applied(time_env.client, run_of(sub_id), TriggerBilling(period_start=period.start))
    async with db.session() as session:
        booking = await service.period_booking(session, subscription_id=sub_id, period=due[0])
    await start_invoice(time_env.client, booking, task_queue=task_queue)
    state = await applied(time_env.client, run_of(sub_id), TriggerBilling())

    after = await invoices_of(db, sub_id)
    assert [i.id for i in after] == [i.id for i in before]
    assert [i.period_start for i in after] == [p.start for p in due]
    async with db.session() as session:
        assert await subs_repo.count_duplicate_periods(session, subscription_ids=[sub_id]) == 0
    assert state.periods_billed == len(due)


async def test_pause_skips_periods_and_resume_continues_from_the_next(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    start = await today(time_env) + DAY
    data = make_subscription(start_date=start, interval=BillingInterval(kind="weekly"))
    await begin(time_env, db, task_queue, started, data)
    sub_id = data.subscription_id or ""
    await time_env.sleep(timedelta(days=2))  # week 1 billed
    await applied(time_env.client, run_of(sub_id), PauseSubscription())
    await time_env.sleep(timedelta(days=14))  # weeks 2 and 3 start while paused
    state = await applied(time_env.client, run_of(sub_id), ResumeSubscription())
    assert state.status is SubscriptionStatus.active
    await time_env.sleep(timedelta(days=7))  # week 4

    invoices = await invoices_of(db, sub_id)
    assert [i.period_start for i in invoices] == [start, start + timedelta(weeks=3)]
    view = await _view(db, sub_id)
    assert [(p.period_start, p.outcome) for p in view.periods] == [
        (start, "billed"),
        (start + timedelta(weeks=1), "skipped"),
        (start + timedelta(weeks=2), "skipped"),
        (start + timedelta(weeks=3), "billed"),
    ]
    # An operator may still bill a skipped period by hand, once.
    await applied(time_env.client, run_of(sub_id), TriggerBilling(period_start=start + timedelta(weeks=1)))
    await applied(time_env.client, run_of(sub_id), TriggerBilling(period_start=start + timedelta(weeks=1)))
    assert len(await invoices_of(db, sub_id)) == 3
    assert (await _view(db, sub_id)).periods_skipped == 1


async def test_cancel_ends_after_the_current_period(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    start = await today(time_env) + DAY
    data = make_subscription(start_date=start, interval=BillingInterval(kind="monthly"))
    handle = await begin(time_env, db, task_queue, started, data)
    sub_id = data.subscription_id or ""
    await time_env.sleep(timedelta(days=3))
    await subscription_runs.send_action(time_env.client, run_of(sub_id), CancelSubscription(note="moving away"))
    outcome = await handle.result()
    await time_env.sleep(timedelta(days=70))  # two more period starts pass

    assert outcome.status is SubscriptionStatus.cancelled and outcome.periods_billed == 1
    invoices = await invoices_of(db, sub_id)
    assert len(invoices) == 1
    view = await _view(db, sub_id)
    assert view.status is SubscriptionStatus.cancelled
    assert view.ends_on == invoices[0].period_end  # the current period stays billed and served
    with pytest.raises(service.WorkflowClosed):
        await subscription_runs.send_action(time_env.client, run_of(sub_id), PauseSubscription())
    again = await subscription_runs.create_and_start(db, time_env.client, data, task_queue=task_queue)
    assert again.status is SubscriptionStatus.cancelled  # a repeated create does not revive it


async def test_create_again_after_the_run_was_terminated_does_not_fail(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    data = make_subscription(start_date=await today(time_env) + DAY)
    handle = await begin(time_env, db, task_queue, started, data)
    await first_task_done(time_env.client, handle.id)
    await handle.terminate("operator stopped it")
    view = await subscription_runs.create_and_start(db, time_env.client, data, task_queue=task_queue)
    assert view.workflow_id == handle.id


async def test_plan_change_applies_from_the_next_period(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    start = await today(time_env) + DAY
    data = make_subscription(start_date=start, interval=BillingInterval(kind="weekly"), max_cycles=3)
    handle = await begin(time_env, db, task_queue, started, data)
    sub_id = data.subscription_id or ""
    await time_env.sleep(timedelta(days=2))
    new_lines = [LineIn(description="Premium retainer", quantity=2, unit_price_minor=7_500)]
    state = await applied(time_env.client, run_of(sub_id), ChangePlan(lines=new_lines))
    assert state.last_rejection is None
    outcome = await handle.result()

    assert outcome.status is SubscriptionStatus.ended  # three cycles, then closed
    invoices = await invoices_of(db, sub_id)
    assert [i.total_minor for i in invoices] == [PLAN_TOTAL, 15_000, 15_000]
    view = await _view(db, sub_id)
    assert [p.effective_from for p in view.plans] == [start, start + timedelta(weeks=1)]


async def test_weekly_across_dst_changes_bills_each_week_once(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    """Weekly in Berlin from two weeks before the spring change to past the autumn one: one invoice per week."""
    now_day = await today(time_env)
    spring = next_date_with(3, 1, now_day)  # some March 1st ahead, then the weekly run crosses both changes
    data = make_subscription(
        start_date=spring,
        interval=BillingInterval(kind="weekly"),
        max_cycles=40,
        issue_hour=2,
        client=make_subscription().client.model_copy(update={"timezone": "Europe/Berlin"}),
    )
    handle = await begin(time_env, db, task_queue, started, data)
    outcome = await handle.result()

    invoices = await invoices_of(db, data.subscription_id or "")
    assert outcome.periods_billed == 40
    assert [i.period_start for i in invoices] == [spring + timedelta(weeks=w) for w in range(40)]
    assert [i.issue_date for i in invoices] == [i.period_start for i in invoices]


async def _view(db: Database, sub_id: str):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.describe(session, subscription_id=sub_id)


def test_workflow_ids_come_from_subscription_and_period() -> None:
    assert workflow_ids.subscription(workspace_id=2, subscription_id="sub-1") == "subscription-w2-sub-1"
    assert service.invoice_booking_id("sub-1", date(2027, 2, 28)) == "sub-1-2027-02-28"
    assert SubscriptionWorkflow.__name__ == "SubscriptionWorkflow"


async def test_continue_as_new_carries_the_schedule_without_double_billing(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    start = await today(time_env) + DAY
    data = make_subscription(start_date=start, interval=BillingInterval(kind="weekly"), max_cycles=8)
    async with db.session() as session:
        await service.create_subscription(session, data=data)
    sub_id = data.subscription_id or ""
    started.append(sub_id)
    handle = await time_env.client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionWorkflowInput(subscription_id=sub_id, periods_per_run=3),
        id=workflow_ids.legacy_subscription(sub_id),  # as started before workspaces
        task_queue=task_queue,
    )
    outcome = await handle.result()  # follows the runs

    assert outcome.periods_billed == 8 and outcome.status is SubscriptionStatus.ended
    invoices = await invoices_of(db, sub_id)
    assert [i.period_start for i in invoices] == [start + timedelta(weeks=w) for w in range(8)]
    # Started without a WorkspaceId (as by code before workspaces): its invoices keep the old ids in every run
    # after continue-as-new too (which carries the WorkspaceId the first run upserted).
    assert all(i.workflow_id.startswith("invoice-subscription-") for i in invoices)


async def test_subscription_runs_and_their_invoices_carry_the_workspace(
    time_env: WorkflowEnvironment, db: Database, worker: Worker, task_queue: str, started: list[str]
) -> None:
    """Issue 13: `WorkspaceId` on the subscription's run and its invoices' runs, whose ids name the workspace."""
    data = make_subscription(start_date=await today(time_env) + DAY, max_cycles=2)
    handle = await begin(time_env, db, task_queue, started, data)
    await handle.result()
    invoices = await invoices_of(db, data.subscription_id or "")
    assert len(invoices) == 2
    assert all(inv.workflow_id.startswith("invoice-w1-subscription-") for inv in invoices)
    assert (await handle.describe()).typed_search_attributes.get(WORKSPACE_ID) == 1
    child = time_env.client.get_workflow_handle(invoices[0].workflow_id)
    assert (await child.describe()).typed_search_attributes.get(WORKSPACE_ID) == 1
