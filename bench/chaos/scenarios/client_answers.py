"""Client answers: every invoice's client answers from the invoice page ("paid by transfer", "I'll pay on",
"I dispute this"); each answer is posted twice, with a weaker answer mixed in, all shuffled (so out of order),
while the worker is SIGKILLed. Then time runs past every reminder step; disputes are resolved by staff (the
signal twice) and every invoice is paid (twice).

Must hold: every answer has one effect (one hold event, one staff email, one stored answer per distinct answer),
0 reminders sent while an invoice is processing, promised or disputed, every page answer a redirect (never a
5xx), and every invoice paid once in the end."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from bench.chaos.context import SuiteContext
from bench.chaos.harness import ChaosStack
from bench.chaos.processes import wait_until
from bench.chaos.report import ScenarioResult
from bench.chaos.scenarios.webhooks import issued
from bench.chaos.workload import Planned, pay, plan, retrying, seconds_policy, start_all
from billflow.services import invoice_runs
from models.workflow_io import ResolveDispute

NAME = "client answers x2, shuffled, worker kills"
OFFSETS = (-20, -10, 0, 5)  # seconds from the due instant: the first step falls 10 s after issue
TERMS = timedelta(seconds=30)
KINDS = ("transfer", "promise", "dispute")
HOLD_EVENTS = {"transfer": "invoice.processing", "promise": "invoice.promised", "dispute": "invoice.disputed"}
REMINDERS = ("reminder", "overdue", "escalation", "promise_broken")
CONCURRENCY = 8
FORM_TOKEN = re.compile(r'name="form_token" value="([0-9]+\.[0-9a-f]+)"')


def kind_of(index: int) -> str:
    return KINDS[index % len(KINDS)]


def answers_for(kind: str, index: int) -> list[dict[str, str]]:
    """The main answer twice, plus a weaker one (a promise never replaces a transfer or a dispute)."""
    today = datetime.now(UTC).date()
    promise = {"kind": "promise", "pay_on": (today + timedelta(days=10)).isoformat()}
    main = {
        "transfer": {"kind": "transfer", "paid_on": today.isoformat(), "reference": f"CHAOS-{index}"},
        "promise": promise,
        "dispute": {"kind": "dispute", "reason": f"chaos dispute {index}: wrong hours"},
    }[kind]
    return [main, main] if kind == "promise" else [main, main, promise]


async def run(ctx: SuiteContext) -> ScenarioResult:
    count = 12 if ctx.short else 120
    began = time.monotonic()
    result = ScenarioResult(NAME, invoices=count)
    planned = plan(count, paid_share=0.0, terms=TERMS)
    for p in planned:
        p.booking = p.booking.model_copy(update={"reminder_policy": seconds_policy(OFFSETS)})
    async with ChaosStack(ctx.postgres, ctx.scenario_dir("client-answers"), api=True) as stack:
        await _run(stack, planned, result)
    result.seconds = time.monotonic() - began
    return result


async def _run(stack: ChaosStack, planned: list[Planned], result: ScenarioResult) -> None:
    assert stack.client is not None and stack.api is not None
    client = stack.client
    ids = [p.workflow_id for p in planned]
    issued_at = time.monotonic()
    await start_all(client, planned, task_queue=stack.task_queue)
    await asyncio.to_thread(
        wait_until, lambda: len(issued(stack.plain_url, ids)) == len(ids), timeout=120, what="every invoice issued"
    )
    invoices = issued(stack.plain_url, ids)
    kinds = {invoices[p.workflow_id][0]: kind_of(i) for i, p in enumerate(planned)}
    rng = random.Random()
    limit = asyncio.Semaphore(CONCURRENCY)
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as http:
        deliveries: list[tuple[str, dict[str, str]]] = []
        for index, p in enumerate(planned):
            _, token = invoices[p.workflow_id]
            page = await http.get(f"/i/{token}")
            match = FORM_TOKEN.search(page.text)
            if page.status_code != 200 or match is None:
                result.problems.append(f"/i/{token[:6]}...: {page.status_code}, no answer form")
                continue
            deliveries += [(token, {**a, "form_token": match.group(1)}) for a in answers_for(kind_of(index), index)]
        rng.shuffle(deliveries)

        async def post(token: str, data: dict[str, str]) -> None:
            async with limit:
                statuses[(await http.post(f"/i/{token}/answer", data=data)).status_code] += 1

        half = len(deliveries) // 2
        await asyncio.gather(*(post(*d) for d in deliveries[:half]))
        await asyncio.to_thread(stack.worker.kill)  # answers queued in the workflows' inboxes meanwhile
        result.faults += 1
        await asyncio.gather(*(post(*d) for d in deliveries[half:]))
    result.faults += sum(statuses.values())
    result.notes.append("answers posted: " + ", ".join(f"HTTP {s}: {n}" for s, n in sorted(statuses.items())))
    for status, n in statuses.items():
        if status != 303:
            result.problems.append(f"{n} answers were answered {status}, not a redirect")

    def every_hold_recorded() -> bool:
        return len(_hold_events(stack.plain_url, kinds)) == len(kinds)

    await asyncio.to_thread(wait_until, every_hold_recorded, timeout=90, what="every answer applied")
    # Let every reminder step, the due instant and the escalation fall due while held, killing the worker once.
    span = TERMS.total_seconds() + max(OFFSETS) + 3
    await asyncio.sleep(max(0.0, issued_at + span / 2 - time.monotonic()))
    await asyncio.to_thread(stack.worker.kill)
    result.faults += 1
    await asyncio.sleep(max(0.0, issued_at + span - time.monotonic()))

    for p in planned:
        if kinds[invoices[p.workflow_id][0]] == "dispute":
            action = ResolveDispute(action_id=f"chaos-resolve-{p.workflow_id}"[-64:], resolution="chaos: resolved")
            for _ in range(2):  # delivered twice: applied once
                await retrying(lambda a=action, w=p.workflow_id: invoice_runs.send_action(client, w, a), what="resolve")
    await asyncio.gather(*(pay(client, p) for p in planned))

    def all_paid() -> bool:
        with psycopg.connect(stack.plain_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM invoices WHERE id = ANY(%s) AND status = 'paid'", (list(kinds),)
            ).fetchone()
        return bool(row and row[0] == len(kinds))

    try:
        await asyncio.to_thread(wait_until, all_paid, timeout=90, what="every invoice paid")
    except TimeoutError:
        result.problems.append("not every invoice was paid in time")
    _check(stack.plain_url, kinds, result)


def _hold_events(database_url: str, kinds: dict[int, str]) -> dict[int, datetime]:
    """invoice id -> when its hold (processing, promised, disputed) was recorded."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT invoice_id, kind, min(occurred_at) FROM timeline_events WHERE invoice_id = ANY(%s) "
            "AND kind = ANY(%s) GROUP BY invoice_id, kind",
            (list(kinds), list(HOLD_EVENTS.values())),
        ).fetchall()
    return {invoice_id: at for invoice_id, kind, at in rows if HOLD_EVENTS[kinds[invoice_id]] == kind}


def _check(database_url: str, kinds: dict[int, str], result: ScenarioResult) -> None:
    holds = _hold_events(database_url, kinds)
    with psycopg.connect(database_url, autocommit=True) as conn:
        events = Counter(
            (invoice_id, kind)
            for invoice_id, kind in conn.execute(
                "SELECT invoice_id, kind FROM timeline_events WHERE invoice_id = ANY(%s)", (list(kinds),)
            )
        )
        ends = {
            invoice_id: at
            for invoice_id, at in conn.execute(
                "SELECT invoice_id, min(occurred_at) FROM timeline_events WHERE invoice_id = ANY(%s) "
                "AND kind IN ('invoice.dispute_resolved', 'payment.received') GROUP BY invoice_id",
                (list(kinds),),
            )
        }
        emails = conn.execute(
            "SELECT invoice_id, kind, reminder_step, created_at FROM email_messages WHERE invoice_id = ANY(%s)",
            (list(kinds),),
        ).fetchall()
        stored = Counter(
            invoice_id
            for (invoice_id,) in conn.execute(
                "SELECT invoice_id FROM client_answers WHERE invoice_id = ANY(%s)", (list(kinds),)
            )
        )
        payments = Counter(
            invoice_id
            for (invoice_id,) in conn.execute(
                "SELECT invoice_id FROM payments WHERE invoice_id = ANY(%s)", (list(kinds),)
            )
        )
    held_reminders = 0
    for invoice_id, kind in kinds.items():
        start, end = holds.get(invoice_id), ends.get(invoice_id)
        if start is None:
            result.lost += 1
            result.problems.append(f"lost: invoice {invoice_id}'s {kind} answer was never applied")
            continue
        for email_invoice, email_kind, step, created in emails:
            if (
                email_invoice == invoice_id
                and email_kind in REMINDERS
                and start <= created
                and (end is None or created < end)
            ):
                held_reminders += 1
                result.problems.append(f"invoice {invoice_id} ({kind}): {email_kind} {step or ''} sent while held")
        if events[(invoice_id, HOLD_EVENTS[kind])] != 1:
            result.duplicates += events[(invoice_id, HOLD_EVENTS[kind])] - 1
            result.problems.append(
                f"duplicate: invoice {invoice_id} has {events[(invoice_id, HOLD_EVENTS[kind])]} holds"
            )
        staff = sum(1 for e in emails if e[0] == invoice_id and e[1] == "client_answer")
        if staff != (0 if kind == "promise" else 1):
            result.duplicates += max(0, staff - 1)
            result.problems.append(f"invoice {invoice_id} ({kind}): {staff} staff emails")
        if stored[invoice_id] != (1 if kind == "promise" else 2):
            result.problems.append(f"invoice {invoice_id} ({kind}): {stored[invoice_id]} stored answers")
        if payments[invoice_id] != 1:
            result.duplicates += max(0, payments[invoice_id] - 1)
            result.problems.append(f"invoice {invoice_id}: {payments[invoice_id]} payments")
    per_email = Counter((i, k, s) for i, k, s, _ in emails)
    for key, n in per_email.items():
        if n > 1 and key[1] != "client_answer":
            result.duplicates += n - 1
            result.problems.append(f"duplicate: email {key} sent {n} times")
    result.notes.append(
        f"holds applied {len(holds)}/{len(kinds)}; reminders sent while held: {held_reminders}; "
        f"stored answers {sum(stored.values())}; emails {len(emails)}"
    )
