"""Worker crashes: the worker process is SIGKILLed every few seconds (and restarted by the supervisor) while
invoices with a reminder policy in seconds are issued, reminded, paid and escalated.

Email goes through billflow's SendGrid backend to the SendGrid stand-in, which posts `processed` events to the
web app like SendGrid's Event Webhook; emails are counted at the stand-in. A hand-over cut off by a kill is
settled by those events or re-sent by the unsettled-email sweep (every 5 s here, after 10 s without an event)."""

from __future__ import annotations

import asyncio
import random

import psycopg

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.lifecycle_run import run_lifecycle
from bench.chaos.report import ScenarioResult
from bench.chaos.standins import SENDGRID_ENV, providers

NAME = "worker crashes"
MAX_KILLING = 120.0  # seconds after POLICY_SPAN at the most (a kill every 2-5 s slows the run down a lot)
POLICY_SPAN = 20.0  # seconds: the reminder policy, due instant and escalation of the last invoice started


async def kill_repeatedly(stack: ChaosStack, workload_in: asyncio.Event) -> int:
    """SIGKILL the worker every 2-5 s until the policy of the last invoice has run its course and every invoice
    has reached its final state, so crashes fall on the whole run, not only on its start."""
    rng = random.Random()
    loop = asyncio.get_running_loop()
    end: float | None = None
    while end is None or loop.time() < end or not await asyncio.to_thread(_all_final, stack.plain_url):
        await asyncio.sleep(rng.uniform(2.0, 5.0))
        await asyncio.to_thread(stack.worker.kill)
        if end is None and workload_in.is_set():
            end = loop.time() + POLICY_SPAN
        if end is not None and loop.time() > end + MAX_KILLING:
            break  # a run that cannot finish is reported by the verdict, not by killing forever
    return stack.worker.kills


def _all_final(plain_url: str) -> bool:
    """Every invoice paid, or overdue and escalated (the end of each planned invoice's life)."""
    with psycopg.connect(plain_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE NOT (status = 'paid' OR (status = 'overdue' AND escalated_at IS NOT NULL))) "
            "FROM invoices"
        ).fetchone()
    return row is not None and row[0] == 0


async def run(ctx: SuiteContext) -> ScenarioResult:
    count = 50 if ctx.short else 1000
    with providers() as prov:
        env = {
            **{k: v for k, v in prov.env.items() if k in SENDGRID_ENV},
            "BILLFLOW_EMAIL_RECONCILE_EVERY": "5",
            "BILLFLOW_EMAIL_RESEND_AFTER": "10",
        }
        return await run_lifecycle(
            ctx,
            NAME,
            ctx.scenario_dir("worker_crash"),
            count=count,
            fault=kill_repeatedly,
            api=True,
            env=env,
            on_start=lambda stack: prov.post_email_events_to(_api_url(stack)),
            provider_summary=lambda stack: prov.summary(stack.plain_url, stack.ledger_summary()),
            settle_timeout=90 if ctx.short else 900,
            # After many kills a retry can be minutes away (provider backoff grows to 10 min): patience, not loss.
            stalled=45 if ctx.short else 660,
        )


def _api_url(stack: ChaosStack) -> str:
    assert stack.api is not None
    return stack.api.url
