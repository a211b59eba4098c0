"""The worker's housekeeping schedules on the real dev server: made once, only where their backend needs them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from billflow.config import EmailBackend, PaymentBackend, Settings
from billflow.runs.schedules import ensure_schedules
from workflows.email_reconcile import SCHEDULE_ID as EMAIL_SCHEDULE


async def _schedule_ids(client: Client) -> set[str]:
    return {entry.id async for entry in await client.list_schedules()}


async def _interval(client: Client, schedule_id: str) -> timedelta:
    described = await client.get_schedule_handle(schedule_id).describe()
    (interval,) = described.schedule.spec.intervals
    return interval.every


async def test_the_email_sweep_is_scheduled_only_with_sendgrid_events_and_only_once(
    dev_env: WorkflowEnvironment, settings: Settings, task_queue: str
) -> None:
    client = dev_env.client
    with pytest.raises(RPCError):  # a fresh namespace of this session: not there yet
        await client.get_schedule_handle(EMAIL_SCHEDULE).describe()
    outbox = settings.model_copy(update={"task_queue": task_queue, "payment_backend": PaymentBackend.local})
    await ensure_schedules(client, outbox)
    assert EMAIL_SCHEDULE not in await _schedule_ids(client)

    sendgrid = outbox.model_copy(
        update={
            "email_backend": EmailBackend.sendgrid,
            "sendgrid_api_key": "SG.x",
            "sendgrid_event_public_key": "MFkw...",
            "email_reconcile_every_seconds": 120,
        }
    )
    await ensure_schedules(client, sendgrid)
    await ensure_schedules(client, sendgrid)  # a second worker starting: no error, nothing new
    assert await _interval(client, EMAIL_SCHEDULE) == timedelta(minutes=2)
    described = await client.get_schedule_handle(EMAIL_SCHEDULE).describe()
    assert described.schedule.policy.overlap is ScheduleOverlapPolicy.ALLOW_ALL  # a stuck sweep blocks none
    await client.get_schedule_handle(EMAIL_SCHEDULE).delete()
