"""Temporal server restart: the dev server (SQLite file persistence) is SIGKILLed mid-run and started again on
the same file; every invoice must still reach its final state, nothing twice."""

from __future__ import annotations

import asyncio

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.lifecycle_run import run_lifecycle
from bench.chaos.report import ScenarioResult

NAME = "temporal restart"


def restart_after(first: float, down_for: float, times: int):  # type: ignore[no-untyped-def]
    async def fault(stack: ChaosStack, workload_in: asyncio.Event) -> int:
        for _ in range(times):
            await asyncio.sleep(first)  # mid-run: invoices started, reminders pending
            await stack.restart_temporal(down_for)
        return times

    return fault


async def run(ctx: SuiteContext) -> ScenarioResult:
    return await run_lifecycle(
        ctx,
        NAME,
        ctx.scenario_dir("temporal_restart"),
        count=40 if ctx.short else 300,
        fault=restart_after(first=4.0, down_for=3.0 if ctx.short else 10.0, times=1 if ctx.short else 3),
        settle_timeout=120 if ctx.short else 600,
    )
