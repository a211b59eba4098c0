"""The run most scenarios share: plan invoices, start and pay them while a fault runs, then check everything.

`fault` is a coroutine factory receiving the stack and an Event set when the workload is in; it injects its
fault (bounded in time) and returns how many faults it injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.invariants import Verdict, wait_for_settled
from bench.chaos.ledger import LedgerSummary
from bench.chaos.report import ScenarioResult
from bench.chaos.workload import pay, plan, start_all

Fault = Callable[[ChaosStack, asyncio.Event], Coroutine[Any, Any, int]]


def verdict_into(result: ScenarioResult, verdict: Verdict) -> None:
    result.duplicates, result.lost = verdict.duplicates, verdict.lost
    result.problems.extend(verdict.problems)
    attempts = ", ".join(f"{n} sent on attempt {a}" for a, n in sorted(verdict.email_attempts.items()))
    result.notes.append(f"emails: {attempts}")
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
    stalled: float = 45.0,
    owed_grace: float = 0.0,
    during: Callable[[ChaosStack], Awaitable[None]] | None = None,
    env: dict[str, str] | None = None,
    on_start: Callable[[ChaosStack], None] | None = None,
    provider_summary: Callable[[ChaosStack], LedgerSummary] | None = None,
) -> ScenarioResult:
    began = time.monotonic()
    result = ScenarioResult(name, invoices=count)
    planned = plan(count)
    async with ChaosStack(ctx.postgres, work_dir, api=api, fault_rate=fault_rate, env=env) as stack:
        if on_start is not None:
            on_start(stack)
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
        summary = (lambda: provider_summary(stack)) if provider_summary is not None else stack.ledger_summary
        verdict = await wait_for_settled(
            stack.plain_url,
            planned,
            summary,
            timeout=settle_timeout,
            stalled=stalled,
            running=lambda ids: open_runs(client, ids),
            owed_grace=owed_grace,
        )
        verdict_into(result, verdict)
        resent, unsettled = await asyncio.to_thread(_email_settlement, stack.plain_url)
        if resent or unsettled:
            result.notes.append(f"emails re-sent by the unsettled-email sweep: {resent}; still unsettled: {unsettled}")
        injected = stack.ledger_summary().faults
        if injected:
            result.faults += sum(injected.values())
            result.notes.append("provider faults: " + ", ".join(f"{k} {v}" for k, v in sorted(injected.items())))
        result.notes.append(f"worker started {stack.worker.starts} times, SIGKILLed {stack.worker.kills} times")
    result.seconds = time.monotonic() - began
    return result


async def open_runs(client: Client, workflow_ids: set[str]) -> set[str]:
    """Which of these invoice runs are still open (following continue-as-new: the latest run counts)."""

    async def is_open(workflow_id: str) -> bool:
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return False
        return described.status == WorkflowExecutionStatus.RUNNING

    ids = sorted(workflow_ids)
    flags = await asyncio.gather(*(is_open(wf) for wf in ids))
    return {wf for wf, flag in zip(ids, flags, strict=True) if flag}


def _email_settlement(plain_url: str) -> tuple[int, int]:
    """(emails the unsettled-email sweep re-sent, emails still of unknown outcome)."""
    with psycopg.connect(plain_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM timeline_events WHERE kind = 'email.resent'), "
            "(SELECT count(*) FROM email_messages WHERE status IN ('unknown', 'claimed'))"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
