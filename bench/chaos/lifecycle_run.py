"""The run most scenarios share: plan invoices, start and pay them while a fault runs, then check everything.

`fault` is a coroutine factory receiving the stack and an Event set when the workload is in; it injects its
fault (bounded in time) and returns how many faults it injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.invariants import Verdict, wait_for_settled
from bench.chaos.report import ScenarioResult
from bench.chaos.workload import pay, plan, start_all

Fault = Callable[[ChaosStack, asyncio.Event], Coroutine[Any, Any, int]]


def verdict_into(result: ScenarioResult, verdict: Verdict) -> None:
    result.duplicates, result.lost = verdict.duplicates, verdict.lost
    result.problems.extend(verdict.problems)
    attempts = ", ".join(f"{n} sent on attempt {a}" for a, n in sorted(verdict.email_attempts.items()))
    result.notes.append(f"emails: {attempts}")
    result.unknown = len(verdict.unknown_unsent)
    for what in verdict.unknown_unsent:
        result.notes.append(f"at-most-once residual: {what} flagged unknown, never reached the provider")
    if verdict.unsent_optional:
        result.notes.append(f"{verdict.unsent_optional} optional emails never reached the provider (not required)")


async def run_lifecycle(
    ctx: SuiteContext,
    name: str,
    work_dir: Path,
    *,
    count: int,
    fault: Fault,
    fault_rate: float = 0.0,
    api: bool = False,
    settle_timeout: float = 90,
    during: Callable[[ChaosStack], Awaitable[None]] | None = None,
) -> ScenarioResult:
    began = time.monotonic()
    result = ScenarioResult(name, invoices=count)
    planned = plan(count)
    async with ChaosStack(ctx.postgres, work_dir, api=api, fault_rate=fault_rate) as stack:
        client = stack.client
        assert client is not None
        workload_in = asyncio.Event()
        injector = asyncio.create_task(fault(stack, workload_in))
        await start_all(client, planned, task_queue=stack.task_queue)
        await asyncio.gather(*(pay(client, p) for p in planned if p.pay))
        workload_in.set()
        if during is not None:
            await during(stack)
        result.faults = await injector
        verdict = await wait_for_settled(stack.plain_url, planned, stack.ledger_summary, timeout=settle_timeout)
        verdict_into(result, verdict)
        injected = stack.ledger_summary().faults
        if injected:
            result.faults += sum(injected.values())
            result.notes.append("provider faults: " + ", ".join(f"{k} {v}" for k, v in sorted(injected.items())))
        result.notes.append(f"worker started {stack.worker.starts} times, SIGKILLed {stack.worker.kills} times")
    result.seconds = time.monotonic() - began
    return result
