"""Benchmark: the receivables reports on 1,000,000 invoices over 50,000 clients.

    python bench/reports.py [--invoices 1000000] [--clients 50000] [--runs 5] [--explain] [--keep]
    python bench/reports.py --workspaces 100 [--sample 10] [--keep] [--reuse]

With --workspaces N the clients (and so their invoices, payments and emails) are spread over N workspaces in a
database of its own (billflow_bench_ws{N}), and every report, the invoice and client lists and the overview are
timed for a sample of workspaces, each as its own API key would ask (issue 13): p50 and p99 over every run.

Fills a database of its own (billflow_bench_reports on DATABASE_URL's server, or the embedded PostgreSQL) with
generate_series in SQL: two years of invoices (most paid, some void or written off, the recent ones open or
overdue), a payment per paid invoice plus refund/re-payment pairs, an issue email per invoice and the reminder
emails an unpaid invoice would have had. Then it times, through the same service and repository functions the API
uses, the aging, cash-collected and DSO reports, top overdue clients, reminder effectiveness, the dashboard and
the first page of the overdue-invoice list. Target: each under 200 ms. The database is dropped at the end unless
--keep.

The indexes that make this fast are declared, each with its reason, in models/invoices.py
(ix_invoices_unsettled_due, ix_invoices_issue_date_cover) and models/payments.py (ix_payments_received_cover).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billflow.db import Database, start_embedded_postgres, to_psycopg_url
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import reports as reports_repo
from billflow.services import overview as overview_service
from billflow.services import reports as reports_service
from billflow.services.reports import Grain

console = Console()
DATABASE_NAME = "billflow_bench_reports"
TARGET_MS = 200.0

# --- the data -------------------------------------------------------------------------------------

WORKSPACES_SQL = """
INSERT INTO workspaces (id, slug, name, default_currency, locale, reporting_timezone, payment_terms_days,
                        created_at, updated_at)
SELECT g, 'bench-' || g, 'Bench business ' || g, 'EUR', 'en_US', 'UTC', 14, now(), now()
FROM generate_series(2, :workspaces) AS g
"""

# Client g belongs to workspace 1 + g % N; its invoices, payments and emails to the same one.
CLIENTS_SQL = """
INSERT INTO clients (workspace_id, external_id, name, email, timezone, email_bounced, created_at, updated_at)
SELECT 1 + g % :workspaces, 'bench-' || g, 'Client ' || g, 'client' || g || '@example.com', 'UTC', false, now(), now()
FROM generate_series(1, :clients) AS g
"""

# Status by age, roughly like a service business: two years of history, ~6 % still unsettled.
INVOICES_SQL = """
INSERT INTO invoices (workspace_id, number, source_key, workflow_id, client_id, currency, subtotal_minor, tax_minor,
                      total_minor, amount_paid_minor, status, issue_date, due_date, issued_at, due_at, timezone,
                      public_token, paid_at, voided_at, written_off_at, overdue_at, reminders_paused, created_at,
                      updated_at)
SELECT 1 + client_id % :workspaces, 'B-' || g, 'bench:' || g, 'invoice-bench-' || g, client_id, currency, total, 0,
       total,
       CASE status WHEN 'paid' THEN total WHEN 'partially_paid' THEN total / 2
                   WHEN 'overdue' THEN CASE WHEN r_pay < 0.2 THEN total / 2 ELSE 0 END ELSE 0 END,
       status, issue_date, issue_date + 14, issue_date + time '09:00', issue_date + 14 + time '23:59', 'UTC',
       md5(g::text),
       CASE WHEN status = 'paid'
            THEN LEAST(issue_date + time '10:00' + make_interval(days => (r_pay * 45)::int), now()) END,
       CASE WHEN status = 'void' THEN issue_date + 30 + time '12:00' END,
       CASE WHEN status = 'uncollectible' THEN issue_date + 104 + time '12:00' END,
       CASE WHEN status IN ('overdue', 'uncollectible') THEN issue_date + 14 + time '23:59' END,
       false, now(), now()
FROM (
    SELECT g, client_id, currency, total, issue_date, r_pay,
           CASE
               WHEN issue_date + 14 >= current_date THEN
                   CASE WHEN r_status < 0.35 THEN 'paid' WHEN r_status < 0.40 THEN 'partially_paid' ELSE 'open' END
               WHEN issue_date + 14 >= current_date - 60 THEN
                   CASE WHEN r_status < 0.60 THEN 'paid' ELSE 'overdue' END
               ELSE CASE WHEN r_status < 0.93 THEN 'paid' WHEN r_status < 0.96 THEN 'void'
                         WHEN r_status < 0.98 THEN 'uncollectible' ELSE 'overdue' END
           END AS status
    FROM (
        SELECT g,
               1 + (random() * (:clients - 1))::int AS client_id,
               CASE WHEN r_cur < 0.90 THEN 'EUR' WHEN r_cur < 0.97 THEN 'USD' ELSE 'GBP' END AS currency,
               (5000 + random() * 195000)::bigint AS total,
               current_date - (random() * 730)::int AS issue_date,
               random() AS r_status, random() AS r_pay
        FROM (SELECT g, random() AS r_cur FROM generate_series(1, :invoices) AS g) AS seed
    ) AS drawn
) AS shaped
"""

PAYMENTS_SQL = """
INSERT INTO payments (workspace_id, invoice_id, client_id, kind, provider, provider_reference, amount_minor, currency,
                      method, received_at, created_at)
SELECT workspace_id, id, client_id, 'payment', 'bench', 'pay-' || id, amount_paid_minor, currency, 'card',
       COALESCE(paid_at, LEAST(issue_date + 20 + time '11:00', now())), now()
FROM invoices WHERE amount_paid_minor > 0
UNION ALL
-- One paid invoice in a hundred had a refund and was paid again the next day (the balance stays settled).
SELECT workspace_id, id, client_id, 'refund', 'bench', 'ref-' || id, total_minor / 10, currency, 'card',
       paid_at + interval '2 days', now()
FROM invoices WHERE status = 'paid' AND id % 100 = 7 AND paid_at < now() - interval '3 days'
UNION ALL
SELECT workspace_id, id, client_id, 'payment', 'bench', 'repay-' || id, total_minor / 10, currency, 'card',
       paid_at + interval '3 days', now()
FROM invoices WHERE status = 'paid' AND id % 100 = 7 AND paid_at < now() - interval '3 days'
"""

# The issue email of every invoice, and reminders at -3, +3 and +7 days from the due date for every invoice
# that was still unpaid then (and not void), up to now.
MESSAGES_SQL = r"""
INSERT INTO email_messages (workspace_id, idempotency_key, invoice_id, client_id, kind, reminder_step, to_email,
                            subject, body_text, backend, status, attempts, created_at, sent_at, updated_at)
SELECT i.workspace_id, i.workflow_id || '\:issued', i.id, i.client_id, 'invoice_issued', NULL, 'c@example.com',
       'Invoice ' || i.number, '.', 'outbox', 'sent', 1, i.issued_at, i.issued_at, i.issued_at
FROM invoices i
UNION ALL
SELECT i.workspace_id, i.workflow_id || '\:reminder-' || s.step, i.id, i.client_id,
       CASE WHEN s.step = 1 THEN 'reminder' ELSE 'overdue' END, s.step, 'c@example.com',
       'Reminder ' || i.number, '.', 'outbox', 'sent', 1, s.at, s.at, s.at
FROM invoices i
CROSS JOIN LATERAL (VALUES (1, i.due_at - interval '3 days'), (2, i.due_at + interval '3 days'),
                           (3, i.due_at + interval '7 days')) AS s(step, at)
WHERE s.at < now() AND (i.paid_at IS NULL OR i.paid_at > s.at) AND (i.voided_at IS NULL OR i.voided_at > s.at)
"""


def fresh_database(keep_existing: bool, name: str = DATABASE_NAME) -> tuple[str, str]:
    """(url of the bench database, admin url) on DATABASE_URL's server or the embedded one."""
    base = os.environ.get("DATABASE_URL")
    server = make_url(to_psycopg_url(base) if base else start_embedded_postgres(Path(".billflow")))
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not keep_existing:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or not keep_existing:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False), admin


async def fill(db: Database, *, invoices: int, clients: int, workspaces: int = 1) -> None:
    steps = [
        ("workspaces", WORKSPACES_SQL),
        ("clients", CLIENTS_SQL),
        ("invoices", INVOICES_SQL),
        ("payments", PAYMENTS_SQL),
        ("email messages", MESSAGES_SQL),
    ]
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT setseed(0.42)"))  # the same data set on every run
        for label, sql in steps:
            started = time.perf_counter()
            params = {"invoices": invoices, "clients": clients, "workspaces": workspaces}
            result = await conn.execute(text(sql), params)
            console.print(f"  {label}: {result.rowcount:,} rows in {time.perf_counter() - started:.1f} s")
    # Statistics and the visibility map: what a live database has after autovacuum, and what index-only
    # scans need.
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        started = time.perf_counter()
        await conn.execute(text("VACUUM (ANALYZE)"))
        console.print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s")


async def counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM invoices) AS invoices,"
                    " (SELECT count(*) FROM invoices WHERE status IN ('open','partially_paid','overdue')) AS unsettled,"
                    " (SELECT count(*) FROM invoices WHERE status = 'overdue') AS overdue,"
                    " (SELECT count(*) FROM payments) AS payments,"
                    " (SELECT count(*) FROM email_messages) AS messages"
                )
            )
        ).one()
    return dict(row._mapping)


# --- the timings ----------------------------------------------------------------------------------

Measured = Callable[[Any], Awaitable[object]]


def measured_calls() -> list[tuple[str, Measured]]:
    return [
        ("aging (as of today)", lambda s: reports_service.aging(s)),
        ("cash collected (12 months by month)", lambda s: reports_service.cash_collected(s, grain=Grain.month)),
        ("cash collected (30 days by day)", lambda s: reports_service.cash_collected(s, grain=Grain.day)),
        ("DSO (90 days)", lambda s: reports_service.days_sales_outstanding(s)),
        ("top overdue clients (10)", lambda s: reports_service.top_overdue_clients(s)),
        ("reminder effectiveness (180 days)", lambda s: reports_service.reminder_effectiveness(s)),
        ("dashboard (aging + 2 lists)", lambda s: reports_service.dashboard(s)),
        (
            "overdue invoices, first page (API list)",
            lambda s: invoices_repo.search_invoices(s, where=invoices_repo.InvoiceFilter(statuses=("overdue",))),
        ),
        (
            "overdue invoices, first page (by due date)",
            lambda s: reports_repo.unsettled_invoices(
                s, workspace_id=1, due_from=None, due_to=None, overdue_only=True, limit=50
            ),
        ),
    ]


async def time_calls(db: Database, runs: int) -> list[tuple[str, float, float]]:
    results = []
    for label, call in measured_calls():
        samples = []
        for attempt in range(runs + 1):
            async with db.session() as session:
                started = time.perf_counter()
                await call(session)
                elapsed = (time.perf_counter() - started) * 1000
            if attempt:  # the first run warms the connection and the caches
                samples.append(elapsed)
        results.append((label, statistics.median(samples), max(samples)))
    return results


def workspace_calls(workspace_id: int) -> list[tuple[str, Measured]]:
    """What one workspace's key asks for: every report, the lists and the dashboard, all of that workspace."""
    ws = workspace_id
    every = invoices_repo.InvoiceFilter(workspace_id=ws)
    overdue = invoices_repo.InvoiceFilter(statuses=("overdue",), workspace_id=ws)
    found = invoices_repo.InvoiceFilter(workspace_id=ws, search="Client 1")
    return [
        ("aging", lambda s: reports_service.aging(s, workspace_id=ws)),
        ("cash collected (12 months)", lambda s: reports_service.cash_collected(s, grain=Grain.month, workspace_id=ws)),
        ("cash collected (30 days)", lambda s: reports_service.cash_collected(s, grain=Grain.day, workspace_id=ws)),
        ("DSO (90 days)", lambda s: reports_service.days_sales_outstanding(s, workspace_id=ws)),
        ("top overdue clients", lambda s: reports_service.top_overdue_clients(s, workspace_id=ws)),
        ("reminder effectiveness (180 days)", lambda s: reports_service.reminder_effectiveness(s, workspace_id=ws)),
        ("dashboard (aging + 2 lists)", lambda s: reports_service.dashboard(s, workspace_id=ws)),
        ("invoice list: all, first page", lambda s: invoices_repo.search_invoices(s, where=every)),
        ("invoice list: overdue, first page", lambda s: invoices_repo.search_invoices(s, where=overdue)),
        ("invoice search 'Client 1'", lambda s: invoices_repo.search_invoices(s, where=found)),
        ("client list, first page", lambda s: clients_repo.search_clients(s, workspace_id=ws)),
    ]  # fmt: skip


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def time_workspaces(db: Database, *, runs: int, workspaces: int, sample: int) -> list[tuple[str, float, float]]:
    """p50 and p99 of each call over `sample` workspaces spread over the range, `runs` times each."""
    chosen = sorted({1 + round(i * (workspaces - 1) / max(sample - 1, 1)) for i in range(sample)})
    samples: dict[str, list[float]] = {}
    for ws in chosen:
        calls = [*workspace_calls(ws), ("overview page (staff app's figures)", None)]
        for label, call in calls:
            for attempt in range(runs + 1):
                started = time.perf_counter()
                if call is None:
                    await overview_service.overview(db, workspace_id=ws)
                else:
                    async with db.session(workspace=ws) as session:
                        await call(session)
                elapsed = (time.perf_counter() - started) * 1000
                if attempt:  # the first run warms the connection and the caches
                    samples.setdefault(label, []).append(elapsed)
    return [(label, _percentile(values, 0.5), _percentile(values, 0.99)) for label, values in samples.items()]


async def explain(db: Database) -> None:
    """Print the aging query's plan, to see which indexes it uses."""
    sql = reports_repo._RECEIVABLE_AS_OF + "SELECT currency, SUM(balance) FROM receivable GROUP BY currency"
    sql = sql.replace(":as_of", "current_date").replace(":cutoff", "(current_date + 1)::timestamptz")
    async with db.engine.connect() as conn:
        await conn.execute(text("SET jit = off"))  # as the report functions do
        plan = await conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql))
        console.print("\n".join(r[0] for r in plan.all()))


async def main(
    invoices: int, clients: int, runs: int, keep: bool, reuse: bool, show_plan: bool, workspaces: int, sample: int
) -> None:
    name = DATABASE_NAME if workspaces == 1 else f"billflow_bench_ws{workspaces}"
    url, admin = fresh_database(keep_existing=reuse, name=name)
    db = Database(url, pool_size=2)
    try:
        await db.create_schema()
        if not reuse or (await counts(db))["invoices"] == 0:
            console.print(
                f"Filling {name} with {invoices:,} invoices over {clients:,} clients in {workspaces} workspace(s) ..."
            )
            started = time.perf_counter()
            await fill(db, invoices=invoices, clients=clients, workspaces=workspaces)
            console.print(f"  filled in {time.perf_counter() - started:.1f} s")
        sizes = await counts(db)
        console.print(", ".join(f"{name} {value:,}" for name, value in sizes.items()))
        if show_plan:
            await explain(db)
        if workspaces > 1:
            title = (
                f"Per workspace: {min(sample, workspaces)} of {workspaces} workspaces x {runs} runs "
                f"(after a warm-up each); target < {TARGET_MS:.0f} ms"
            )
            table = Table(title=title)
            for column in ("query", "p50 ms", "p99 ms", ""):
                table.add_column(column, justify="left" if column == "query" else "right")
            for label, p50, p99 in await time_workspaces(db, runs=runs, workspaces=workspaces, sample=sample):
                table.add_row(label, f"{p50:.1f}", f"{p99:.1f}", "[green]ok[/]" if p99 < TARGET_MS else "[red]over[/]")
            console.print(table)
            return
        table = Table(title=f"Report timings ({runs} runs after a warm-up; target < {TARGET_MS:.0f} ms)")
        table.add_column("query")
        table.add_column("median ms", justify="right")
        table.add_column("max ms", justify="right")
        table.add_column("", justify="center")
        for label, median, worst in await time_calls(db, runs):
            verdict = "[green]ok[/]" if median < TARGET_MS else "[red]over[/]"
            table.add_row(label, f"{median:.1f}", f"{worst:.1f}", verdict)
        console.print(table)
    finally:
        await db.dispose()
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (after one warm-up)")
    parser.add_argument("--keep", action="store_true", help=f"keep {DATABASE_NAME} afterwards")
    parser.add_argument("--reuse", action="store_true", help=f"reuse a kept {DATABASE_NAME} instead of refilling")
    parser.add_argument("--explain", action="store_true", help="print the aging query's plan")
    parser.add_argument("--workspaces", type=int, default=1, help="spread the clients over this many workspaces")
    parser.add_argument("--sample", type=int, default=10, help="with --workspaces: how many workspaces to time")
    args = parser.parse_args()
    if args.workspaces < 1:
        parser.error("--workspaces: at least 1")
    asyncio.run(
        main(args.invoices, args.clients, args.runs, args.keep, args.reuse, args.explain, args.workspaces, args.sample)
    )
