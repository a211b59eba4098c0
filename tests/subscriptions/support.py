"""Factories and helpers of the subscription tests."""

from __future__ import annotations

import asyncio
import calendar
import uuid
from datetime import date, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from billflow.db import Database
from billflow.repositories import subscriptions as subs_repo
from billflow.repositories import timeline as timeline_repo
from billflow.runs import subscriptions as subscription_runs
from models.invoices import Invoice
from models.subscription_io import BillingInterval, SubscriptionAction, SubscriptionIn, SubscriptionRunState
from models.workflow_io import LineIn, ReminderPolicy
from tests.factories import make_client

PLAN_TOTAL = 10_000  # make_subscription's one line: 100.00


def make_subscription(**overrides: Any) -> SubscriptionIn:
    values: dict[str, Any] = {
        "subscription_id": f"sub-{uuid.uuid4().hex[:10]}",
        "client": make_client(timezone="America/New_York"),
        "lines": [LineIn(description="Monthly retainer", unit_price_minor=PLAN_TOTAL)],
        "currency": "USD",
        "interval": BillingInterval(kind="monthly"),
        "start_date": date(2027, 1, 31),
        "payment_terms": timedelta(days=14),
        # No reminders: each invoice only goes overdue and escalates, which keeps the runs short.
        "reminder_policy": ReminderPolicy(steps=[]),
    }
    return SubscriptionIn(**(values | overrides))


def next_date_with(month: int, day: int, after: date) -> date:
    """The first `month`/`day` strictly after `after`."""
    candidate = date(after.year, month, day)
    return candidate if candidate > after else date(after.year + 1, month, day)


def month_end_clamped(year: int, month: int, day: int) -> date:
    """Independent oracle: `day` or the month's last day."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


async def invoices_of(db: Database, subscription_id: str) -> list[Invoice]:
    async with db.session() as session:
        return list(await subs_repo.list_invoices(session, subscription_id=subscription_id))


async def applied(
    client: Client, workflow_id: str, action: SubscriptionAction, timeout: float = 10.0
) -> SubscriptionRunState:
    """Signal the action and poll the status query (real time) until the run has processed it: for tests on the
    time-skipping server, which has no Updates (the product answers through `subscription_runs.execute_action`)."""
    await subscription_runs.send_action(client, workflow_id, action)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = await subscription_runs.query_state(client, workflow_id)
        if action.action_id in state.processed_action_ids or asyncio.get_running_loop().time() > deadline:
            return state
        await asyncio.sleep(0.05)


async def subscription_events(db: Database, subscription_id: str) -> list[str]:
    """The kinds of the subscription's timeline events (its client is its own: make_subscription's)."""
    async with db.session() as session:
        sub = await subs_repo.get_subscription(session, subscription_id=subscription_id)
        assert sub is not None
        events = await timeline_repo.list_events(session, client_id=sub.client_id)
    return [e.kind for e in events if e.kind.startswith("subscription.")]


async def first_task_done(client: Client, workflow_id: str, timeout: float = 5.0) -> None:
    """Wait until the run has completed a workflow task: the time-skipping server keeps time locked forever for a
    run terminated while its first task is outstanding (every later `env.sleep` then hangs)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events):
            return
        await asyncio.sleep(0.05)


async def runs_of(db: Database, subscription_id: str) -> list[str]:
    """The workflow ids of a subscription's run (as its row records it) and of its invoices' runs."""
    async with db.session() as session:
        sub = await subs_repo.get_subscription(session, subscription_id=subscription_id)
    own = [sub.workflow_id] if sub is not None else []
    return own + [i.workflow_id for i in await invoices_of(db, subscription_id)]


async def terminate_all(client: Client, workflow_ids: list[str]) -> None:
    """Stop what a test left running, so later time skipping does not drive orphaned runs."""
    for wf_id in workflow_ids:
        try:
            await first_task_done(client, wf_id)
            await client.get_workflow_handle(wf_id).terminate("test finished")
        except RPCError:
            pass  # already closed
