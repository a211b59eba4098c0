"""A worker process for the shutdown tests: one workflow whose one activity takes a while; it stops the way
billflow's worker does (`worker.run_until_stopped`).

python -m tests.ops.slow_worker ADDRESS TASK_QUEUE LOG_FILE GRACE_SECONDS [MAX_CONCURRENT_ACTIVITIES]
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import RetryPolicy


@activity.defn
async def slow_step(seconds: float) -> str:
    """Takes `seconds` on its first attempt (heartbeating), no time on a retry; logs each start and finish."""
    info = activity.info()
    log = Path(info.heartbeat_details[0]) if info.heartbeat_details else Path(LOG_FILE)
    with log.open("a") as out:
        out.write(f"started {info.attempt}\n")
    if info.attempt == 1:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            activity.heartbeat(str(log))
            await asyncio.sleep(0.1)
    with log.open("a") as out:
        out.write(f"finished {info.attempt}\n")
    return f"done on attempt {info.attempt}"


@workflow.defn
class SlowWorkflow:
    """Runs slow_step once, with a heartbeat timeout so a lost attempt is retried quickly."""

    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(
            slow_step,
            seconds,
            start_to_close_timeout=timedelta(seconds=120),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )


LOG_FILE = "slow_step.log"


async def main(address: str, task_queue: str, log_file: str, grace: float, max_activities: int) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from billflow.codec import data_converter_for
    from billflow.config import Settings
    from worker import run_until_stopped

    global LOG_FILE
    LOG_FILE = log_file
    client = await Client.connect(address, data_converter=data_converter_for(Settings()))  # the tests' key
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[SlowWorkflow],
        activities=[slow_step],
        graceful_shutdown_timeout=timedelta(seconds=grace),
        max_concurrent_activities=max_activities,
    )
    print("polling", flush=True)
    await run_until_stopped(worker)
    print("stopped", flush=True)


if __name__ == "__main__":
    max_activities = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), max_activities))
    from worker import exit_now

    exit_now(0)
