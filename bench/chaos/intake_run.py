"""Booking intake under load, with an optional fault: signed `booking.confirmed` events posted at a steady rate
to the web app, every answer timed; then every accepted event must have its invoice (in the answer and in
PostgreSQL, once) and its run started in Temporal. Shared by bench/intake.py and the `temporal-down` scenario.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import psycopg
from temporalio.service import RPCError, RPCStatusCode

from bench.chaos.harness import ChaosStack
from bench.chaos.scenarios.load import confirmed_event, percentile
from billflow.db import Database
from billflow.services.integrations import NewIntegration, create_integration, signed_headers

MAX_IN_FLIGHT = 400  # the sender's own bound: beyond it, sending waits (reported as the achieved rate)
Fault = Callable[[ChaosStack], Awaitable[float | None]]  # returns when the fault ended (epoch seconds), if any


@dataclass
class IntakeFigures:
    sent: int = 0
    accepted: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    accept_ms: list[float] = field(default_factory=list)
    without_number: int = 0
    invoices_missing: list[str] = field(default_factory=list)  # accepted, no invoice in PostgreSQL
    never_started: list[str] = field(default_factory=list)  # accepted, no run in Temporal by the deadline
    late_starts: list[str] = field(default_factory=list)  # started more than `start_within` after it could be
    start_delay_s: list[float] = field(default_factory=list)  # run start - max(answer, fault's end)
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return len(self.invoices_missing) + len(self.never_started)

    def summary(self) -> list[str]:
        return [
            f"{self.sent} events in {self.seconds:.1f} s ({self.sent / max(self.seconds, 1e-9):.1f}/s achieved); "
            "answers " + ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())),
            f"acceptance p50 {percentile(self.accept_ms, 0.5):.1f} ms, p99 {percentile(self.accept_ms, 0.99):.1f} ms, "
            f"max {max(self.accept_ms, default=float('nan')):.1f} ms; without a number: {self.without_number}",
            f"runs started: {self.accepted - len(self.never_started)} of {self.accepted}; start after it could be "
            f"p50 {percentile(self.start_delay_s, 0.5):.2f} s, p99 {percentile(self.start_delay_s, 0.99):.2f} s, "
            f"max {max(self.start_delay_s, default=float('nan')):.2f} s; duplicates {self.duplicates}",
        ]


async def run_intake(
    stack: ChaosStack,
    *,
    rate: float,
    seconds: float,
    fault: Fault | None = None,
    start_within: float = 30.0,
    settle: float = 120.0,
) -> IntakeFigures:
    assert stack.client is not None and stack.api is not None
    figures = IntakeFigures()
    db = Database(stack.settings_env["DATABASE_URL"], pool_size=1)
    name = f"intake-{uuid.uuid4().hex[:6]}"
    integration = await create_integration(db, NewIntegration(name=name))
    await db.dispose()
    run = uuid.uuid4().hex[:6]
    total = int(seconds * rate)
    answered_at: dict[str, float] = {}  # workflow id -> epoch seconds of its 202
    numbers: dict[str, str] = {}  # workflow id -> invoice number answered
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def post(http: httpx.AsyncClient, i: int) -> None:
        body = json.dumps(confirmed_event(run, i)).encode()
        headers = {**signed_headers(name, integration.secret, body), "Content-Type": "application/json"}
        try:
            sent = time.perf_counter()
            answer = await http.post("/v1/events", content=body, headers=headers)
            figures.accept_ms.append((time.perf_counter() - sent) * 1000)
            figures.statuses[str(answer.status_code)] += 1
            if answer.status_code == 202:
                data = answer.json()
                answered_at[data["workflow_id"]] = datetime.now(UTC).timestamp()
                if data.get("invoice_number"):
                    numbers[data["workflow_id"]] = data["invoice_number"]
                else:
                    figures.without_number += 1
            else:
                figures.problems.append(f"event {i} refused: {answer.status_code} {answer.text[:120]}")
        except httpx.HTTPError as err:
            figures.statuses[type(err).__name__] += 1
            figures.problems.append(f"event {i}: {type(err).__name__}")
        finally:
            in_flight.release()

    fault_task = asyncio.create_task(fault(stack)) if fault is not None else None
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: at the same 5 s, a request
    # sent on a connection the server is closing fails with ReadError (2 of 500 in CI on 2026-12-06).
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=100, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=60, limits=limits) as http:
        start = time.perf_counter()
        posts = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            posts.append(asyncio.create_task(post(http, i)))
        await asyncio.gather(*posts)
        figures.seconds = time.perf_counter() - start
    fault_ended = await fault_task if fault_task is not None else None
    figures.sent, figures.accepted = total, len(answered_at)

    with psycopg.connect(stack.plain_url, autocommit=True) as conn:
        ids = list(answered_at)
        rows = conn.execute("SELECT workflow_id, number FROM invoices WHERE workflow_id = ANY(%s)", (ids,)).fetchall()
        recorded = {r[0]: r[1] for r in rows}
        figures.duplicates = len(rows) - len(recorded)
    figures.invoices_missing = [wf for wf in ids if wf not in recorded]
    figures.problems += [
        f"{wf}: answered {numbers[wf]}, recorded {recorded.get(wf)}"
        for wf in ids
        if wf in numbers and recorded.get(wf) not in (None, numbers[wf])
    ][:10]
    await _check_starts(stack, answered_at, fault_ended, figures, start_within=start_within, settle=settle)
    return figures


async def _check_starts(
    stack: ChaosStack,
    answered_at: dict[str, float],
    fault_ended: float | None,
    figures: IntakeFigures,
    *,
    start_within: float,
    settle: float,
) -> None:
    """Each accepted event's run, described in Temporal: started, once, within `start_within` seconds of the
    moment it could start (its answer, or the end of the fault for an answer given during it)."""
    assert stack.client is not None
    client = stack.client
    pending = dict(answered_at)
    gate = asyncio.Semaphore(20)
    deadline = time.monotonic() + settle

    async def describe(workflow_id: str) -> float | None:
        async with gate:
            try:
                found = await client.get_workflow_handle(workflow_id).describe()
            except RPCError as err:
                if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE):
                    return None
                raise
            return found.start_time.timestamp() if found.start_time else None

    while pending and time.monotonic() < deadline:
        ids = list(pending)
        started = await asyncio.gather(*(describe(wf) for wf in ids))
        for workflow_id, at in zip(ids, started, strict=True):
            if at is None:
                continue
            could_start = max(pending.pop(workflow_id), fault_ended or 0.0)
            delay = at - could_start
            figures.start_delay_s.append(max(delay, 0.0))
            if delay > start_within:
                figures.late_starts.append(workflow_id)
        if pending:
            await asyncio.sleep(1.0)
    figures.never_started = sorted(pending)
    if figures.late_starts:
        figures.problems.append(
            f"{len(figures.late_starts)} runs started more than {start_within:.0f} s after they could: "
            + ", ".join(figures.late_starts[:5])
        )
