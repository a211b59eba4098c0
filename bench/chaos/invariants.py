"""Nothing lost, nothing twice: what the database and the provider-side ledger must show at the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import psycopg

from bench.chaos.ledger import LedgerSummary
from bench.chaos.workload import STEP_OFFSETS, TOTAL, Planned


@dataclass
class Verdict:
    invoices: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    email_attempts: Counter[int] = field(default_factory=Counter)  # attempts per message -> messages
    unsent_optional: int = 0  # optional emails (not required by the final state) the provider never got
    # Required emails not (yet) at the provider, per invoice run: owed by that run while it is still open (its
    # email activity retrying with backoff), lost only once it has closed without sending.
    owed: dict[str, list[str]] = field(default_factory=dict)

    def dup(self, n: int, what: str) -> None:
        self.duplicates += n
        self.problems.append(f"duplicate: {what}")

    def missing(self, what: str, *, owed_by: str | None = None) -> None:
        self.lost += 1
        self.problems.append(f"lost: {what}")
        if owed_by is not None:
            self.owed.setdefault(owed_by, []).append(f"lost: {what}")

    @property
    def total_attempts(self) -> int:
        return sum(attempts * n for attempts, n in self.email_attempts.items())

    def only_owed(self) -> bool:
        """Every loss is an email some run still owes (nothing else is missing)."""
        return self.lost == sum(len(v) for v in self.owed.values())

    def unfinished(self, runs: set[str]) -> None:
        """Runs still open at the end: their emails are not lost, they are late; said so, and still a failure."""
        for wf in runs:
            for problem in self.owed.pop(wf, []):
                self.lost -= 1
                self.problems.remove(problem)
                self.problems.append(problem.replace("lost: ", "unfinished (its run is still open, retrying): ", 1))


def expected_emails(p: Planned) -> set[tuple[str, int | None]]:
    """The emails that must be accepted exactly once; any other email of the invoice (the issue email of one
    paid on arrival, a reminder sent before the payment) must be accepted at most once."""
    if p.pay:
        return {("receipt", None)}
    steps = {("reminder" if off <= 0 else "overdue", i + 1) for i, off in enumerate(STEP_OFFSETS)}
    return {("invoice_issued", None), ("escalation", None), *steps}


def check(database_url: str, planned: list[Planned], ledger: LedgerSummary) -> Verdict:
    """Compare every planned invoice with the database and with what the providers accepted."""
    verdict = Verdict(invoices=len(planned))
    ids = [p.workflow_id for p in planned]
    with psycopg.connect(database_url, autocommit=True) as conn:
        invoices = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT workflow_id, id, status, amount_paid_minor, payment_url, escalated_at IS NOT NULL "
                "FROM invoices WHERE workflow_id = ANY(%s)",
                (ids,),
            )
        }
        invoice_ids = [v[0] for v in invoices.values()]
        payments = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT invoice_id, count(*), coalesce(sum(amount_minor), 0) FROM payments "
                "WHERE invoice_id = ANY(%s) GROUP BY invoice_id",
                (invoice_ids,),
            )
        }
        emails: dict[int, list[tuple[str, int | None, str, str, int]]] = {}
        for invoice_id, kind, step, key, status, attempts in conn.execute(
            "SELECT invoice_id, kind, reminder_step, idempotency_key, status, attempts FROM email_messages "
            "WHERE invoice_id = ANY(%s)",
            (invoice_ids,),
        ):
            emails.setdefault(invoice_id, []).append((kind, step, key, status, attempts))
    for p in planned:
        wf = p.workflow_id
        row = invoices.get(wf)
        if row is None:
            verdict.missing(f"{wf}: no invoice")
            continue
        invoice_id, status, paid_minor, payment_url, escalated = row
        count, _total = payments.get(invoice_id, (0, 0))
        if p.pay:
            if count > 1:
                verdict.dup(count - 1, f"{wf}: {count} payments recorded")
            if count == 0 or status != "paid" or paid_minor != TOTAL:
                verdict.missing(f"{wf}: status {status}, paid {paid_minor}, {count} payments (expected paid once)")
        else:
            if count:
                verdict.problems.append(f"{wf}: payment recorded on an unpaid invoice")
            if status != "overdue" or not escalated:
                verdict.missing(f"{wf}: status {status}, escalated {escalated} (expected overdue and escalated)")
        # the payment link: created once at the provider, the same one stored on the invoice
        links = ledger.links.get(f"{wf}:payment-link", set())
        if len(links) > 1:
            verdict.dup(len(links) - 1, f"{wf}: {len(links)} distinct payment links")
        if not links or payment_url not in links:
            verdict.missing(f"{wf}: payment link {payment_url!r} not created at the provider")
        # emails: one row per (kind, step), each accepted by the provider exactly once
        rows = emails.get(invoice_id, [])
        per_kind = Counter((kind, step) for kind, step, *_ in rows)
        for (kind, step), n in per_kind.items():
            if n > 1:
                verdict.dup(n - 1, f"{wf}: {n} {kind} emails (step {step})")
        for kind, step in expected_emails(p) - set(per_kind):
            verdict.missing(f"{wf}: {kind} email (step {step}) never written", owed_by=wf)
        required = expected_emails(p)
        for kind, step, key, status, attempts in rows:
            verdict.email_attempts[attempts] += 1
            accepted = ledger.emails.get(key, 0)
            if accepted > 1:
                verdict.dup(accepted - 1, f"{wf}: {kind} (step {step}) accepted {accepted} times by the provider")
            elif accepted == 0 and (kind, step) in required:
                verdict.missing(
                    f"{wf}: {kind} (step {step}) is {status} (attempts {attempts}) but the provider never got it",
                    owed_by=wf,
                )
            elif accepted == 0:
                verdict.unsent_optional += 1
    return verdict


async def wait_for_settled(
    database_url: str,
    planned: list[Planned],
    ledger_read: Callable[[], LedgerSummary],
    *,
    timeout: float,
    settle: float = 2.0,
    stalled: float = 45.0,
    running: Callable[[set[str]], Awaitable[set[str]]] | None = None,
    owed_grace: float = 0.0,
) -> Verdict:
    """Poll until nothing is missing, the time is up, or nothing has changed for `stalled` seconds (a loss that
    will not heal); then look once more after `settle` seconds, so a late duplicate still shows.

    With `running` (which of these invoice runs are still open): an email still owed by an open run is late, not
    lost. While every loss is such an email the wait is not judged stalled (a retry of the email activity can be
    minutes away in its backoff) and may run `owed_grace` seconds past `timeout`; what is still owed then is
    reported as unfinished, not as lost."""
    began = time.monotonic()
    deadline = began + timeout
    last: tuple[int, ...] | None = None
    changed = began
    while True:
        verdict = await asyncio.to_thread(check, database_url, planned, ledger_read())
        now = time.monotonic()
        progress = (verdict.lost, verdict.duplicates, sum(verdict.email_attempts.values()), verdict.total_attempts)
        if progress != last:
            last, changed = progress, now
        if verdict.lost == 0:
            break
        owed_only = (
            running is not None and verdict.only_owed() and await running(set(verdict.owed)) == set(verdict.owed)
        )
        if owed_only and now < deadline + owed_grace:
            await asyncio.sleep(1.0)
            continue
        if now > deadline or now - changed > stalled:
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(settle)
    verdict = await asyncio.to_thread(check, database_url, planned, ledger_read())
    if running is not None and verdict.owed:
        verdict.unfinished(await running(set(verdict.owed)))
    return verdict
