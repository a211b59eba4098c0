"""Worker crashes: the worker process is SIGKILLed every few seconds (and restarted) while invoices with a
reminder policy in seconds are issued, reminded, paid and escalated."""

from __future__ import annotations

import asyncio
import random
import time

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.invariants import Verdict, wait_for_settled
from bench.chaos.report import ScenarioResult
from bench.chaos.workload import pay, plan, start_all

NAME = "worker crashes"


async def kill_repeatedly(stack: ChaosStack, stop: asyncio.Event, *, every: tuple[float, float]) -> None:
    """SIGKILL the worker at random intervals; the stack's supervisor starts a new one."""
    rng = random.Random()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(*every))
        except TimeoutError:
            await asyncio.to_thread(stack.worker.kill)


def verdict_into(result: ScenarioResult, verdict: Verdict) -> None:
    result.duplicates, result.lost = verdict.duplicates, verdict.lost
    result.problems.extend(verdict.problems)
    attempts = ", ".join(f"{n} x{a}" for a, n in sorted(verdict.email_attempts.items()))
    result.notes.append(f"emails by provider attempts: {attempts}")


async def run(ctx: SuiteContext) -> ScenarioResult:
    count = 50 if ctx.short else 1000
    began = time.monotonic()
    result = ScenarioResult(NAME, invoices=count)
    planned = plan(count)
    async with ChaosStack(ctx.postgres, ctx.scenario_dir("worker_crash")) as stack:
        assert stack.client is not None
        stop = asyncio.Event()
        killer = asyncio.create_task(kill_repeatedly(stack, stop, every=(2.0, 5.0)))

        async def start_and_pay() -> None:
            await start_all(stack.client, planned, task_queue=stack.task_queue)  # type: ignore[arg-type]
            await asyncio.gather(*(pay(stack.client, p) for p in planned if p.pay))  # type: ignore[arg-type]

        await start_and_pay()
        # keep crashing through the reminders, due instants and escalations (the policy spans ~15 s)
        await asyncio.sleep(20)
        stop.set()
        await killer
        verdict = await wait_for_settled(
            stack.plain_url, planned, stack.ledger_summary, timeout=90 if ctx.short else 600
        )
        result.faults = stack.worker.kills
        result.notes.append(f"worker SIGKILLed {stack.worker.kills} times, started {stack.worker.starts} times")
        verdict_into(result, verdict)
    result.seconds = time.monotonic() - began
    return result
