"""Webhooks: invoices paid through Stripe Checkout (the project's stand-in); every Stripe and SendGrid event is
delivered three times, shuffled, with forged copies among them. Each payment is recorded exactly once, each
forged delivery rejected (and counted), each email accepted once by SendGrid, one Checkout Session per invoice."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.processes import wait_until
from bench.chaos.report import ScenarioResult
from bench.chaos.signing import SendGridSigner, stripe_delivery, stripe_event
from bench.chaos.standins import Providers, providers
from bench.chaos.workload import plan, start_all

NAME = "webhooks x3, shuffled, forged"
# Forgeries come from somewhere else than the providers (uvicorn takes X-Forwarded-For from loopback): the
# failed-signature throttle refuses the forger's address (429), never Stripe's or SendGrid's deliveries.
FORGER = {"X-Forwarded-For": "203.0.113.66"}
COPIES = 3
CONCURRENCY = 8


def issued(database_url: str, workflow_ids: list[str]) -> dict[str, tuple[int, str]]:
    """workflow id -> (invoice id, public token) of invoices whose issue email was accepted."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT i.workflow_id, i.id, i.public_token FROM invoices i JOIN email_messages m ON m.invoice_id = i.id "
            "AND m.kind = 'invoice_issued' AND m.status = 'sent' WHERE i.workflow_id = ANY(%s)",
            (workflow_ids,),
        ).fetchall()
    return {wf: (invoice_id, token) for wf, invoice_id, token in rows}


def sent_messages(database_url: str, invoice_ids: list[int]) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, invoice_id, to_email, provider_message_id FROM email_messages "
            "WHERE invoice_id = ANY(%s) AND provider_message_id IS NOT NULL",
            (invoice_ids,),
        ).fetchall()
    return [{"id": r[0], "invoice_id": r[1], "to": r[2], "provider_id": r[3]} for r in rows]


def sendgrid_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "email": message["to"],
            "timestamp": int(time.time()) + n,
            "event": kind,
            "sg_event_id": f"sg-chaos-{message['id']}-{kind}",
            "sg_message_id": f"{message['provider_id']}.filter0001",
            "billflow_message_id": str(message["id"]),
            "billflow_invoice_id": str(message["invoice_id"]),
        }
        for n, kind in enumerate(("processed", "delivered", "open"))
    ]


async def run(ctx: SuiteContext) -> ScenarioResult:
    count = 20 if ctx.short else 300
    began = time.monotonic()
    result = ScenarioResult(NAME, invoices=count)
    planned = plan(count, paid_share=1.0, terms=timedelta(days=1))  # no reminder in the way
    with providers() as prov:
        async with ChaosStack(ctx.postgres, ctx.scenario_dir("webhooks"), api=True, env=prov.env) as stack:
            await _run(stack, prov, planned, result)
    result.seconds = time.monotonic() - began
    return result


async def _run(stack: ChaosStack, prov: Providers, planned: list[Any], result: ScenarioResult) -> None:
    assert stack.client is not None and stack.api is not None
    ids = [p.workflow_id for p in planned]
    await start_all(stack.client, planned, task_queue=stack.task_queue)
    await asyncio.to_thread(
        wait_until, lambda: len(issued(stack.plain_url, ids)) == len(ids), timeout=120, what="every invoice issued"
    )
    invoices = issued(stack.plain_url, ids)
    rng = random.Random()
    deliveries: list[tuple[str, bytes, dict[str, str], bool]] = []  # (path, body, headers, genuine)
    limit = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as http:
        # the client clicks the pay link: billflow creates the Checkout Session; the client pays on "Stripe"
        sessions: dict[int, str] = {}

        async def click(invoice_id: int, token: str) -> None:
            async with limit:
                answer = await http.get(f"/pay/{token}")
            if answer.status_code != 303:
                result.problems.append(f"/pay/{token[:6]}...: {answer.status_code}, not a redirect to Checkout")
                return
            sessions[invoice_id] = answer.headers["location"].rsplit("/", 1)[1]

        await asyncio.gather(*(click(i, t) for i, t in invoices.values()))
        for session_id in sessions.values():
            event = stripe_event(
                "checkout.session.completed", prov.stripe.complete(session_id), event_id=f"evt_chaos_{session_id}"
            )
            body, headers = stripe_delivery(event)
            deliveries += [("/webhooks/stripe", body, headers, True)] * COPIES
            if rng.random() < 0.5:  # forged: signed with another secret
                forged_body, forged_headers = stripe_delivery(event, secret="whsec_forged")
                deliveries.append(("/webhooks/stripe", forged_body, {**forged_headers, **FORGER}, False))
        forger = SendGridSigner()
        for message in sent_messages(stack.plain_url, [i for i, _ in invoices.values()]):
            events = sendgrid_events(message)
            body, headers = prov.signer.delivery(events)
            deliveries += [("/webhooks/sendgrid", body, headers, True)] * COPIES
            if rng.random() < 0.5:  # forged: signed with a key SendGrid does not hold
                forged_body, forged_headers = forger.delivery(events)
                deliveries.append(("/webhooks/sendgrid", forged_body, {**forged_headers, **FORGER}, False))
        rng.shuffle(deliveries)
        answers: Counter[tuple[bool, int]] = Counter()

        async def post(path: str, body: bytes, headers: dict[str, str], genuine: bool) -> None:
            async with limit:
                answers[(genuine, (await http.post(path, content=body, headers=headers)).status_code)] += 1

        await asyncio.gather(*(post(*d) for d in deliveries))
    forged = sum(n for (genuine, _), n in answers.items() if not genuine)
    rejected = sum(n for (genuine, status), n in answers.items() if not genuine and 400 <= status < 500)
    result.faults = sum(answers.values())
    result.notes.append(
        f"deliveries {sum(answers.values())} (x{COPIES} each, shuffled), forged {forged}, rejected {rejected}; "
        "answers " + ", ".join(f"{'genuine' if g else 'forged'} {s}: {n}" for (g, s), n in sorted(answers.items()))
    )
    if rejected != forged:
        result.problems.append(f"{forged - rejected} forged deliveries were accepted")
    for (genuine, status), n in answers.items():
        if genuine and status != 200:
            result.problems.append(f"{n} genuine deliveries answered {status}")
    await _check(stack, prov, planned, invoices, sessions, result)


async def _check(
    stack: ChaosStack,
    prov: Providers,
    planned: list[Any],
    invoices: dict[str, tuple[int, str]],
    sessions: dict[int, str],
    result: ScenarioResult,
) -> None:
    def all_paid_with_receipt() -> bool:
        return sum(1 for (_, kind), n in prov.mails_per_message().items() if kind == "receipt") >= len(planned)

    try:
        await asyncio.to_thread(wait_until, all_paid_with_receipt, timeout=90, what="every receipt sent")
    except TimeoutError:
        pass
    await asyncio.sleep(2)  # a late duplicate would show now
    with psycopg.connect(stack.plain_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT i.workflow_id, i.id, i.status, count(p.id), coalesce(sum(p.amount_minor), 0), "
            "array_agg(p.provider_reference) FROM invoices i LEFT JOIN payments p ON p.invoice_id = i.id "
            "WHERE i.id = ANY(%s) GROUP BY i.id",
            ([i for i, _ in invoices.values()],),
        ).fetchall()
        opened = conn.execute(
            "SELECT count(*) FROM email_messages WHERE invoice_id = ANY(%s) AND kind = 'invoice_issued' "
            "AND status = 'opened'",
            ([i for i, _ in invoices.values()],),
        ).fetchone()
    seen = {wf for wf, *_ in rows}
    for p in planned:
        if p.workflow_id not in seen:
            result.lost += 1
            result.problems.append(f"lost: {p.workflow_id} has no invoice")
    for wf, invoice_id, status, payments, _amount, refs in rows:
        if payments > 1:
            result.duplicates += payments - 1
            result.problems.append(f"duplicate: {wf} has {payments} payments {refs}")
        if status != "paid" or payments == 0:
            result.lost += 1
            result.problems.append(f"lost: {wf} is {status} with {payments} payments")
        elif refs != [sessions.get(invoice_id)]:
            result.problems.append(f"{wf}: payment reference {refs} is not its session {sessions.get(invoice_id)}")
    for (invoice_id, kind), n in prov.mails_per_message().items():
        if n > 1:
            result.duplicates += n - 1
            result.problems.append(f"duplicate: invoice {invoice_id} {kind} accepted {n} times by SendGrid")
    for invoice_id, n in prov.sessions_per_invoice().items():
        if n > 1:
            result.duplicates += n - 1
            result.problems.append(f"duplicate: invoice {invoice_id} has {n} Checkout Sessions")
    receipts = sum(1 for (_, kind) in prov.mails_per_message() if kind == "receipt")
    if receipts < len(planned):
        result.lost += len(planned) - receipts
        result.problems.append(f"lost: {len(planned) - receipts} receipts never reached SendGrid")
    result.notes.append(
        f"SendGrid stand-in accepted {len(prov.sendgrid.mails)} mails; Stripe stand-in created "
        f"{len(prov.stripe.sessions)} sessions; issue emails marked opened: {opened[0] if opened else 0}"
    )
