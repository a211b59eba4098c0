"""The worker's housekeeping sweeps as Temporal Schedules: visible, pausable and triggerable in the UI and CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.service import RPCError, RPCStatusCode


async def ensure_interval_schedule(
    client: Client,
    schedule_id: str,
    workflow_run: Any,
    arg: Any,
    *,
    every: timedelta,
    task_queue: str,
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
) -> None:
    """Create the schedule once; an existing one is left as an operator may have changed or paused it."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(workflow_run, arg, id=f"{schedule_id}-run", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=overlap),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except RPCError as err:
        if err.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
    except Exception as err:  # temporalio raises ScheduleAlreadyRunningError for an existing id
        if type(err).__name__ != "ScheduleAlreadyRunningError":
            raise
