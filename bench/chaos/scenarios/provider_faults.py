"""Provider faults: the project's Stripe and SendGrid stand-ins answer 20 % of requests with 429 or 500, or
time out (SendGrid: answers after the client's timeout; Stripe: accepts and the answer is lost). Invoices run
their reminder policy, half are paid through Checkout; every invoice completes, each email is accepted once by
SendGrid, one Checkout Session per invoice, each payment recorded once; retries show in the attempts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import psycopg

from bench.chaos.context import SuiteContext
from bench.chaos.faulty import wrappers
from bench.chaos.harness import ChaosStack
from bench.chaos.invariants import wait_for_settled
from bench.chaos.lifecycle_run import verdict_into
from bench.chaos.report import ScenarioResult
from bench.chaos.signing import stripe_delivery, stripe_event
from bench.chaos.standins import Providers, providers
from bench.chaos.workload import Planned, plan, start_all

NAME = "provider faults (20 %)"
RATE = 0.2
EMAIL_TIMEOUT = 2.0  # BILLFLOW_EMAIL_TIMEOUT for the run; a stalled answer comes 1 s after it


async def pay_through_checkout(http: httpx.AsyncClient, stack: ChaosStack, prov: Providers, p: Planned) -> str:
    """The client opens the pay link (retrying a polite error page), pays on "Stripe"; the webhook follows."""
    token = None
    for _ in range(240):
        async with await psycopg.AsyncConnection.connect(stack.plain_url, autocommit=True) as conn:
            cursor = await conn.execute("SELECT public_token FROM invoices WHERE workflow_id = %s", (p.workflow_id,))
            row = await cursor.fetchone()
        if row:
            token = row[0]
            break
        await asyncio.sleep(0.25)
    if token is None:
        return "never issued"
    for _ in range(20):
        answer = await http.get(f"/pay/{token}")
        if answer.status_code == 303:
            session_id = answer.headers["location"].rsplit("/", 1)[1]
            break
        await asyncio.sleep(1.0)  # the client tries again a moment later
    else:
        return f"pay link kept failing ({answer.status_code})"
    body, headers = stripe_delivery(
        stripe_event("checkout.session.completed", prov.stripe.complete(session_id), event_id=f"evt_pf_{session_id}")
    )
    for _ in range(20):
        if (await http.post("/webhooks/stripe", content=body, headers=headers)).status_code == 200:
            return "paid"
        await asyncio.sleep(1.0)
    return "webhook kept failing"


async def run(ctx: SuiteContext) -> ScenarioResult:
    count = 30 if ctx.short else 500
    began = time.monotonic()
    result = ScenarioResult(NAME, invoices=count)
    planned = plan(count)
    wrap, faults = wrappers(RATE, email_stall=EMAIL_TIMEOUT + 1.0)
    with providers(wrap=wrap) as prov:
        env = {**prov.env, "BILLFLOW_EMAIL_TIMEOUT": str(EMAIL_TIMEOUT)}
        async with ChaosStack(ctx.postgres, ctx.scenario_dir("provider_faults"), api=True, env=env) as stack:
            assert stack.client is not None and stack.api is not None
            await start_all(stack.client, planned, task_queue=stack.task_queue)
            limit = asyncio.Semaphore(8)
            async with httpx.AsyncClient(base_url=stack.api.url, timeout=60) as http:

                async def pay(p: Planned) -> None:
                    async with limit:
                        outcome = await pay_through_checkout(http, stack, prov, p)
                    if outcome != "paid":
                        result.problems.append(f"{p.workflow_id}: {outcome}")

                await asyncio.gather(*(pay(p) for p in planned if p.pay))
            verdict = await wait_for_settled(
                stack.plain_url,
                planned,
                lambda: prov.summary(stack.plain_url, stack.ledger_summary()),
                timeout=150 if ctx.short else 900,
            )
            verdict_into(result, verdict)
            sessions = prov.sessions_per_invoice()
            for invoice_id, n in sessions.items():
                if n > 1:
                    result.duplicates += n - 1
                    result.problems.append(f"duplicate: invoice {invoice_id} has {n} Checkout Sessions")
            injected: Counter[str] = Counter()
            for f in faults:
                injected.update(f.counts)
            result.faults = sum(injected.values())
            result.notes.append("injected: " + ", ".join(f"{k} {v}" for k, v in sorted(injected.items())))
            result.notes.append(
                f"SendGrid stand-in received {len(prov.sendgrid.requests)} requests, accepted "
                f"{len(prov.sendgrid.mails)} mails; Stripe stand-in received {len(prov.stripe.requests)} requests, "
                f"created {len(prov.stripe.sessions)} sessions for {sum(1 for p in planned if p.pay)} payers"
            )
    result.seconds = time.monotonic() - began
    return result


__all__: list[Any] = ["NAME", "run"]
