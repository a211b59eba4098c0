"""The floor for bench/lifecycle.py: the least work a workflow with one activity and one signal can do."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def floor_activity(value: str) -> str:
    return value


@workflow.defn
class FloorWorkflow:
    def __init__(self) -> None:
        self._signalled = False

    @workflow.run
    async def run(self, value: str) -> str:
        await workflow.execute_activity(floor_activity, value, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self._signalled)
        return value

    @workflow.signal
    def go(self) -> None:
        self._signalled = True
