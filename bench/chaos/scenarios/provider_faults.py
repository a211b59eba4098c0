"""Provider faults: 20 % of calls to the email and payment providers answer 429 or 500 (nothing accepted) or
time out after accepting; every invoice completes, nothing is sent or created twice, and the retries show
in the attempts counted per message."""

from __future__ import annotations

import asyncio

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.lifecycle_run import run_lifecycle
from bench.chaos.report import ScenarioResult

NAME = "provider faults (20 %)"


async def no_extra_fault(stack: ChaosStack, workload_in: asyncio.Event) -> int:
    return 0  # the faults are drawn by the providers' wrappers in the worker (CHAOS_FAULT_RATE)


async def run(ctx: SuiteContext) -> ScenarioResult:
    return await run_lifecycle(
        ctx,
        NAME,
        ctx.scenario_dir("provider_faults"),
        count=40 if ctx.short else 500,
        fault=no_extra_fault,
        fault_rate=0.2,
        settle_timeout=120 if ctx.short else 900,
    )
