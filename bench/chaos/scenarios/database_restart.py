"""Database restart: the suite's own PostgreSQL is stopped mid-run (fast shutdown: connections cut) and started
again; the run completes with the same guarantees, and while it is down the API answers 503, never a 500 or a
hang. The machine's shared PostgreSQL is never touched."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.lifecycle_run import run_lifecycle
from bench.chaos.report import ScenarioResult
from billflow.db import Database
from billflow.services.api_keys import NewApiKey, create_key
from models.api_keys import ApiRole

NAME = "database restart"
PROBE_TIMEOUT = 5.0  # seconds: an answer slower than this counts as a hang


async def probe(url: str, token: str, *, for_seconds: float, answers: Counter[str]) -> None:
    """Call the API (a staff list and readiness) every 0.25 s while the database is down; count the answers."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + for_seconds
    async with httpx.AsyncClient(base_url=url, timeout=PROBE_TIMEOUT) as http:
        while time.monotonic() < deadline:
            for path in ("/v1/invoices", "/readyz"):
                try:
                    answers[str((await http.get(path, headers=headers)).status_code)] += 1
                except httpx.TimeoutException:
                    answers["hang"] += 1
                except httpx.HTTPError:
                    answers["connection error"] += 1
            await asyncio.sleep(0.25)


async def run(ctx: SuiteContext) -> ScenarioResult:
    down_for = 4.0 if ctx.short else 30.0
    answers: Counter[str] = Counter()

    async def stop_database(stack: ChaosStack, workload_in: asyncio.Event) -> int:
        db = Database(stack.settings_env["DATABASE_URL"], pool_size=1)
        token = (await create_key(db, NewApiKey(name="chaos probe", role=ApiRole.staff))).token
        await db.dispose()
        await asyncio.sleep(3.0)  # mid-run: invoices being issued and reminded
        await asyncio.to_thread(stack.postgres.stop)
        assert stack.api is not None
        await probe(stack.api.url, token, for_seconds=down_for, answers=answers)
        await asyncio.to_thread(stack.postgres.start)
        return 1

    result = await run_lifecycle(
        ctx,
        NAME,
        ctx.scenario_dir("database_restart"),
        count=40 if ctx.short else 300,
        fault=stop_database,
        api=True,
        settle_timeout=120 if ctx.short else 600,
    )
    result.notes.append(
        f"API while the database was down ({down_for:.0f} s): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
    )
    wrong = {k: v for k, v in answers.items() if k != "503"}
    if not answers.get("503"):
        result.problems.append("the API never answered 503 while the database was down")
    if wrong:
        result.problems.append(f"answers other than 503 while the database was down: {wrong}")
    return result
