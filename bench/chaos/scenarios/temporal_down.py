"""Temporal down during intake load: the dev server is SIGKILLed while signed booking events keep coming, and
started again on the same file after 30 s (4 s in the short version). Facts first (docs/intake.md): every event
is still accepted with its invoice number (0 refused), every invoice is recorded once (0 lost), and every run is
started by the outbox relay within 30 s of Temporal's return."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.intake_run import run_intake
from bench.chaos.report import ScenarioResult

NAME = "temporal down during intake"
START_WITHIN = 30.0  # seconds after Temporal is back (issue 12)


def down_for(after: float, seconds: float):  # type: ignore[no-untyped-def]
    async def fault(stack: ChaosStack) -> float:
        await asyncio.sleep(after)
        await asyncio.to_thread(stack.temporal.kill)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(stack.temporal.start)
        return datetime.now(UTC).timestamp()  # back: its runs can start from now

    return fault


async def run(ctx: SuiteContext) -> ScenarioResult:
    short = ctx.short
    rate, seconds = (20.0, 10.0) if short else (50.0, 60.0)
    outage = 4.0 if short else 30.0
    began = time.monotonic()
    result = ScenarioResult(NAME)
    async with ChaosStack(ctx.postgres, ctx.scenario_dir("temporal_down"), api=True) as stack:
        stack.supervise = True
        figures = await run_intake(
            stack,
            rate=rate,
            seconds=seconds,
            fault=down_for(after=2.0 if short else 10.0, seconds=outage),
            start_within=START_WITHIN,
            settle=120.0 if short else 300.0,
        )
    result.invoices = figures.accepted
    result.faults = 1
    result.duplicates = figures.duplicates
    result.lost = figures.lost + (figures.sent - figures.accepted)
    result.problems += figures.problems[:20]
    if figures.without_number:
        result.problems.append(f"{figures.without_number} answers without an invoice number")
    result.problems += [f"lost: accepted event's invoice {wf} never recorded" for wf in figures.invoices_missing[:10]]
    result.problems += [f"lost: run {wf} never started" for wf in figures.never_started[:10]]
    result.notes.append(f"Temporal down {outage:.0f} s during {seconds:.0f} s of events at {rate:.0f}/s")
    result.notes += figures.summary()
    result.seconds = time.monotonic() - began
    return result
